// Command plane runs cuscon's end-to-end control plane until it gets SIGTERM or SIGINT,
// for hack/demo.sh and for trying cuscon by hand without a cluster.
//
//	go run ./hack/plane --bin "$(hack/build-plane.sh)" --dir /tmp/plane
//
// When the plane is ready it writes DIR/admin.kubeconfig and then DIR/ready.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"cuscon/internal/plane"
)

func main() {
	bin := flag.String("bin", "", "directory of the plane's binaries (printed by hack/build-plane.sh)")
	dir := flag.String("dir", "", "directory for the plane's data and logs")
	flag.Parse()
	if *bin == "" || *dir == "" {
		fmt.Fprintln(os.Stderr, "plane: --bin and --dir are required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	p, err := plane.Start(ctx, plane.Options{BinDir: *bin, Dir: *dir, Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "plane:", err)
		os.Exit(1)
	}
	defer p.Stop()
	if err := os.WriteFile(filepath.Join(*dir, "ready"), []byte(p.Kubeconfig+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "plane:", err)
		return
	}
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "plane: stopping")
}
