package main

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit statuses, the same for every command (docs/cli.md, "Exit codes"):
//
//	0    it did what was asked (a run that ended by its --timeout too)
//	1    it failed: the error says what, why and what to do
//	2    the command line is wrong: unknown command or flag, missing or extra arguments, a flag,
//	     parameter, filter or field name that cannot be used as written
//	130  a run stopped by SIGINT (Ctrl-C), 143 by SIGTERM: 128 + the signal, as shells report
//	     a process the signal ended; a second SIGINT or SIGTERM exits at once, with the same
//	     rule
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError is a command line that cannot run as written (exit status 2). image_args.go's
// cliUsageError is another; both say so with IsUsage.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// IsUsage marks the error as a usage error (exit status 2).
func (e *usageError) IsUsage() bool { return true }

// usage marks err as a usage error; nil stays nil.
func usage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err}
}

// usagef is usage(fmt.Errorf(...)).
func usagef(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

// interrupted is how a run stopped by a signal ends: exit status 128 + the signal, and no
// "Error:" line (the run's summary was printed).
type interrupted struct{ sig syscall.Signal }

func (e interrupted) Error() string { return "stopped by " + signalName(e.sig) }

// signalName is the conventional name of sig: SIGINT, SIGTERM.
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// exitStatus returns the exit status for err (see the constants above).
func exitStatus(err error) int {
	if err == nil {
		return exitOK
	}
	var sig interrupted
	if errors.As(err, &sig) {
		return 128 + int(sig.sig)
	}
	var u interface{ IsUsage() bool }
	if errors.As(err, &u) && u.IsUsage() {
		return exitUsage
	}
	return exitError
}

// report prints err the way every command ends ("Error: ..."; nothing for a run a signal
// stopped) and returns the exit status.
func report(w io.Writer, err error) int {
	var sig interrupted
	if err != nil && !errors.As(err, &sig) {
		fmt.Fprintln(w, "Error:", err)
	}
	return exitStatus(err)
}

// flagError makes cobra's flag parsing errors (unknown flag, a value that does not parse)
// usage errors, naming the command's help.
func flagError(cmd *cobra.Command, err error) error {
	return usagef("%w (see `%s --help`)", err, cmd.CommandPath())
}
