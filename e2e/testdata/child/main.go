// Command child is the app that `cuscon sync` runs in the end-to-end tests: at start
// and on each SIGHUP it records the content of $CHILD_DIR/app.conf in $CHILD_LOG; on
// SIGTERM it records "term" and exits with $CHILD_EXIT_CODE.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
)

func main() {
	note := func(what string) {
		content, err := os.ReadFile(filepath.Join(os.Getenv("CHILD_DIR"), "app.conf"))
		if err != nil {
			content = []byte("unreadable: " + err.Error())
		}
		f, err := os.OpenFile(os.Getenv("CHILD_LOG"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			os.Exit(99)
		}
		fmt.Fprintf(f, "%s: %s\n", what, content)
		f.Close()
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM)
	note("start")
	for sig := range signals {
		if sig == syscall.SIGHUP {
			note("reload")
			continue
		}
		note("term")
		code, _ := strconv.Atoi(os.Getenv("CHILD_EXIT_CODE"))
		os.Exit(code)
	}
}
