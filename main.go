// Command cuscon restarts the pods selected by a ConfigMap's magalix.com/podDeleteMatch
// annotation when that ConfigMap's content changes. It talks to the Kubernetes API
// through a kubectl proxy sidecar on 127.0.0.1:8001.
//
// main.go reads the configuration (flags, each with an environment twin), wires the
// parts together, and runs until SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// config is everything cuscon can be told.
type config struct {
	Namespace         string
	APIURL            string
	Annotation        string
	State             string
	LogFormat         string
	LogLevel          string
	DeleteUnownedPods bool
	ShutdownTimeout   time.Duration
}

// errVersion asks main to print the version and exit.
var errVersion = errors.New("version requested")

// parseConfig reads flags from args; each flag's default comes from its environment
// twin (read with getenv) when that is set. Help goes to out.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("cuscon", flag.ContinueOnError)
	fs.SetOutput(out)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var badEnv error
	envBool := func(name string) bool {
		v, err := strconv.ParseBool(env(name, "false"))
		if err != nil {
			badEnv = fmt.Errorf("env %s: %w", name, err)
		}
		return v
	}
	envDuration := func(name, def string) time.Duration {
		v, err := time.ParseDuration(env(name, def))
		if err != nil {
			badEnv = fmt.Errorf("env %s: %w", name, err)
		}
		return v
	}
	fs.StringVar(&c.Namespace, "namespace", env("res_namespace", "default"), "namespace whose ConfigMaps and pods are handled (env res_namespace)")
	fs.StringVar(&c.APIURL, "api-url", env("CUSCON_API_URL", "http://127.0.0.1:8001"), "Kubernetes API address: the kubectl proxy sidecar (env CUSCON_API_URL)")
	fs.StringVar(&c.Annotation, "annotation", env("CUSCON_ANNOTATION", "magalix.com/podDeleteMatch"), "ConfigMap annotation holding the pod label selector (env CUSCON_ANNOTATION)")
	fs.StringVar(&c.State, "state", env("CUSCON_STATE", "annotation"), "where the last applied content hash is kept: annotation (on the ConfigMap, survives restarts) or memory (env CUSCON_STATE)")
	fs.StringVar(&c.LogFormat, "log-format", env("CUSCON_LOG_FORMAT", "text"), "text (the Python script's lines) or json (env CUSCON_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", env("CUSCON_LOG_LEVEL", "info"), "info or debug; debug explains every decision (env CUSCON_LOG_LEVEL)")
	fs.BoolVar(&c.DeleteUnownedPods, "delete-unowned-pods", envBool("CUSCON_DELETE_UNOWNED_PODS"), "also delete matching pods that no controller owns and nothing will recreate (env CUSCON_DELETE_UNOWNED_PODS)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDuration("CUSCON_SHUTDOWN_TIMEOUT", "10s"), "on SIGTERM, how long requests under way may finish (env CUSCON_SHUTDOWN_TIMEOUT)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case *showVersion:
		return c, errVersion
	case badEnv != nil:
		return c, badEnv
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case c.State != "annotation" && c.State != "memory":
		return c, fmt.Errorf("--state %q: want annotation or memory", c.State)
	case c.Annotation == "" || c.Namespace == "":
		return c, errors.New("--annotation and --namespace must not be empty")
	}
	return c, nil
}

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	switch {
	case errors.Is(err, errVersion):
		fmt.Println("cuscon", version)
		return
	case errors.Is(err, flag.ErrHelp):
		return
	case err != nil:
		fmt.Fprintln(os.Stderr, "cuscon:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cuscon:", err)
		os.Exit(1)
	}
}

// run wires the controller to a watcher and runs it until ctx ends.
func run(ctx context.Context, cfg config, logOut io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log, err := newLogger(logOut, cfg.LogFormat, level)
	if err != nil {
		return err
	}
	w, err := newWatcher(cfg, log)
	if err != nil {
		return err
	}
	log.Info("Starting the service", "version", version, "namespace", cfg.Namespace, "api", cfg.APIURL,
		"annotation", cfg.Annotation, "state", cfg.State)
	w.run(ctx)
	log.Info("Stopped", "reason", context.Cause(ctx))
	return nil
}

// newWatcher builds the watcher of cfg.Namespace's ConfigMaps with the controller that
// handles them.
func newWatcher(cfg config, log *slog.Logger) (*watcher, error) {
	api, err := newAPIClient(cfg.APIURL)
	if err != nil {
		return nil, err
	}
	ctl := &controller{
		api:         api,
		log:         log,
		annotation:  cfg.Annotation,
		recordState: cfg.State == "annotation",
		grace:       cfg.ShutdownTimeout,
		pods:        &podRestarter{api: api, deleteUnowned: cfg.DeleteUnownedPods, backoff: defaultBackoff},
		state:       map[string]cmState{},
	}
	return &watcher{
		api:         api,
		namespace:   cfg.Namespace,
		log:         log,
		handler:     ctl,
		keep:        ctl.annotated,
		idleTimeout: 5 * time.Minute,
		pageSize:    500,
		backoff:     defaultBackoff,
	}, nil
}
