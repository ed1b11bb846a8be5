// notify.go tells the app of `cuscon sync` to reload: by an HTTP request to its reload
// endpoint (sidecar mode), or by SIGHUP to the child cuscon started (subprocess mode),
// whose signals and exit code it passes on. Failed reloads are retried with backoff.

package syncer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"cuscon/internal/backoff"
	"cuscon/internal/telemetry"
)

// notifier passes reload requests on to the app, retrying failures with backoff; after
// `limit` failures in a row it reports itself unhealthy until a reload succeeds.
type notifier struct {
	log     *slog.Logger
	metrics *telemetry.Metrics
	send    func(ctx context.Context) error
	limit   int
	backoff backoff.Policy

	mu       sync.Mutex
	failures int
	lastErr  error
}

// notifyApp serves requests from reloads until ctx ends.
func (n *notifier) notifyApp(ctx context.Context, reloads <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reloads:
		}
		bo := n.backoff.Start()
		for {
			err := n.send(ctx)
			n.note(err)
			if err == nil || !bo.Wait(ctx) {
				break
			}
		}
	}
}

// note records the outcome of one reload.
func (n *notifier) note(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err == nil {
		n.failures, n.lastErr = 0, nil
		n.metrics.Reloads.Inc("result", "ok")
		n.log.Info("Reloaded the app")
		return
	}
	n.failures++
	n.lastErr = err
	n.metrics.Reloads.Inc("result", "failed")
	n.log.Warn("Could not reload the app, retrying", "failures", n.failures, "err", err)
}

// healthy is false once `limit` reloads in a row have failed.
func (n *notifier) healthy() (bool, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failures >= n.limit {
		return false, fmt.Sprintf("%d reloads in a row failed, last: %v", n.failures, n.lastErr)
	}
	return true, ""
}

// httpReload returns a reload that sends method to url and wants a 2xx.
func httpReload(method, url string) func(ctx context.Context) error {
	client := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, method, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	}
}

// runChild waits for the first write, starts the command, passes reloads on as SIGHUP
// and SIGTERM/SIGINT on as themselves, and returns the child's exit code when it ends
// (128 + the signal's number if a signal ended it). If ctx ends first, the child is
// sent SIGTERM and waited for.
func runChild(ctx context.Context, command []string, s *syncer, n *notifier, log *slog.Logger, startReloads func()) int {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)
	select {
	case <-s.firstWrite:
	case sig := <-signals:
		log.Info("Stopped before the first write", "signal", sig.String())
		return 128 + int(sig.(syscall.Signal))
	case <-ctx.Done():
		return 1
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Error("Could not start the command", "command", command[0], "err", err)
		return 127
	}
	log.Info("Started the command", "command", strings.Join(command, " "), "pid", cmd.Process.Pid)
	n.send = func(context.Context) error { return cmd.Process.Signal(syscall.SIGHUP) }
	startReloads()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	done := ctx.Done()
	for {
		select {
		case sig := <-signals:
			log.Info("Passing the signal to the command", "signal", sig.String())
			_ = cmd.Process.Signal(sig)
		case <-done:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done = nil
		case <-exited:
			code := cmd.ProcessState.ExitCode()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
			log.Info("The command exited", "code", code)
			return code
		}
	}
}
