// flags.go defines flags whose defaults come from environment twins, for both modes:
// a flag on the command line beats its twin, and a twin that does not parse is an error.

package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
)

// newEnvFlags returns a flag set called name whose help starts with usage.
func newEnvFlags(name, usage string, out io.Writer, getenv func(string) string) *envFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintln(out, usage+"\nFlags (a flag on the command line beats its environment twin):")
		fs.PrintDefaults()
	}
	return &envFlags{fs: fs, getenv: getenv}
}

// envFlags defines flags whose defaults come from environment twins, and remembers the
// first twin that did not parse.
type envFlags struct {
	fs     *flag.FlagSet
	getenv func(string) string
	err    error
}

// str defines a string flag whose default is its twin's value, if set.
func (e *envFlags) str(p *string, name, env, def, usage string) {
	define(e, p, name, env, def, usage, func(v string) (string, error) { return v, nil }, e.fs.StringVar)
}

// boolean defines a bool flag whose default is its twin's value, if set and valid.
func (e *envFlags) boolean(p *bool, name, env string, def bool, usage string) {
	define(e, p, name, env, def, usage, strconv.ParseBool, e.fs.BoolVar)
}

// integer defines an int flag whose default is its twin's value, if set and valid.
func (e *envFlags) integer(p *int, name, env string, def int, usage string) {
	define(e, p, name, env, def, usage, strconv.Atoi, e.fs.IntVar)
}

// duration defines a duration flag whose default is its twin's value, if set and valid.
func (e *envFlags) duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	define(e, p, name, env, def, usage, time.ParseDuration, e.fs.DurationVar)
}

// define defines one flag of type T: the twin env, when set, is parsed into its default,
// and the first twin that does not parse is remembered as the error.
func define[T any](e *envFlags, p *T, name, env string, def T, usage string, parse func(string) (T, error), flagVar func(*T, string, T, string)) {
	if v := e.getenv(env); v != "" {
		parsed, err := parse(v)
		if err != nil && e.err == nil {
			e.err = fmt.Errorf("env %s: %w", env, err)
		}
		def = parsed
	}
	flagVar(p, name, def, usage+" (env "+env+")")
}

// common defines the flags of commonConfig.
func (e *envFlags) common(c *commonConfig) {
	e.connection(c)
	e.str(&c.ListenAddress, "listen-address", "CUSCON_LISTEN_ADDRESS", ":8080", "where /healthz, /readyz and /metrics are served (empty: nowhere)")
	e.str(&c.LogFormat, "log-format", "CUSCON_LOG_FORMAT", "text", "text (the Python script's lines) or json")
	e.str(&c.LogLevel, "log-level", "CUSCON_LOG_LEVEL", "info", "info or debug; debug explains every decision")
}

// connection defines the flags that say how the API is reached.
func (e *envFlags) connection(c *commonConfig) {
	e.str(&c.APIURL, "api-url", "CUSCON_API_URL", "http://127.0.0.1:8001", "Kubernetes API address: the kubectl proxy sidecar")
	e.boolean(&c.InCluster, "in-cluster", "CUSCON_IN_CLUSTER", false, "talk to the API server directly with the pod's ServiceAccount, no proxy sidecar")
	e.str(&c.ServiceAccountDir, "service-account-dir", "CUSCON_SERVICE_ACCOUNT_DIR", "/var/run/secrets/kubernetes.io/serviceaccount", "with --in-cluster: where the token and ca.crt are")
}
