// process.go starts and stops the plane's processes (and any other the tests run, such
// as kubectl proxy and cuscon itself), each in its own process group with its own log,
// and holds the small helpers the tests share: waiting for a condition, free ports,
// kubeconfigs.

package plane

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Process is one child process with its log file.
type Process struct {
	Name string
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartProcess starts bin in its own process group, logging to dir/<name>.log.
func StartProcess(dir, name string, env []string, bin string, args ...string) (*Process, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	proc := &Process{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(proc.done)
	}()
	return proc, nil
}

// Exited reports whether the process has ended.
func (proc *Process) Exited() bool {
	select {
	case <-proc.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has ended.
func (proc *Process) Done() <-chan struct{} { return proc.done }

// ExitCode is the process's exit code, or -1 while it runs or if a signal ended it.
func (proc *Process) ExitCode() int {
	if !proc.Exited() {
		return -1
	}
	return proc.cmd.ProcessState.ExitCode()
}

// Pid is the process's ID.
func (proc *Process) Pid() int { return proc.cmd.Process.Pid }

// Signal sends sig to the process.
func (proc *Process) Signal(sig os.Signal) error { return proc.cmd.Process.Signal(sig) }

// Stop sends SIGTERM to the process group, then SIGKILL after grace, and waits.
func (proc *Process) Stop(grace time.Duration) {
	if proc.Exited() {
		return
	}
	_ = syscall.Kill(-proc.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-proc.done:
	case <-time.After(grace):
		_ = syscall.Kill(-proc.cmd.Process.Pid, syscall.SIGKILL)
		<-proc.done
	}
}

// Tail returns the last n lines of a file.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Eventually polls cond every 100 ms until it is true, returns an error, or timeout
// passes. Polling an observable state with a deadline, never a fixed sleep.
func Eventually(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FreePorts returns n distinct free loopback ports.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// WriteKubeconfig writes a kubeconfig for server authenticated by token.
func WriteKubeconfig(path, server, token string) error {
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: user
  user:
    token: %s
contexts:
- name: e2e
  context:
    cluster: e2e
    user: user
current-context: e2e
`, server, token)
	return os.WriteFile(path, []byte(cfg), 0o600)
}
