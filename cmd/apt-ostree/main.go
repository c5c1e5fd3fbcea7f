// Command apt-ostree builds Debian OSTree commits and bootc-compatible OCI
// images. This package only parses flags and calls one library function per
// command; all behaviour lives in the library packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err == nil {
		return
	}
	var ee exitError
	if !errors.As(err, &ee) || ee.err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "Run '%s --help' for usage.\n", ue.cmd)
	}
	os.Exit(exitCode(err))
}

// exitCode maps a command's error to the exit status: 2 for a usage
// error (unknown command or flag, wrong arguments), a command's own
// status, else 1.
func exitCode(err error) int {
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// usageError is a command line that names no valid command, flag or
// argument list; cmd is the command path whose --help explains it.
type usageError struct {
	cmd string
	err error
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError carries a specific exit status (e.g. 77 for --unchanged-exit-77)
// out of a command; err may be nil when there is nothing to print.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e exitError) Unwrap() error { return e.err }
