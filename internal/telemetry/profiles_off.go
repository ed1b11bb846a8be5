//go:build !pprof

// profiles_off.go stands in for profiles.go in the shipped binary, which is built
// without profiles (see there why).

package telemetry

import (
	"context"
	"log/slog"
)

// ServeProfiles says once that this binary serves no profiles and carries on: a Reloader
// chart's enablePProf must not stop the controller it starts.
func ServeProfiles(_ context.Context, addr string, log *slog.Logger) error {
	log.Warn("--enable-pprof: this binary was built without Go's profiles (build with -tags pprof to serve them); nothing is served", "addr", addr)
	return nil
}
