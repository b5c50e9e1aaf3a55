package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// cliUsageError is a command line that cannot be run as typed (exit status 2): a missing or
// extra argument, a command that does not exist. Its message says what is wrong and shows the
// usage.
type cliUsageError struct{ msg string }

func (e *cliUsageError) Error() string { return e.msg }

// IsUsage marks the error as a usage error (exit status 2).
func (e *cliUsageError) IsUsage() bool { return true }

// unknownSubcommand is the Args of a command that only groups subcommands: any argument is a
// subcommand that does not exist, said with the nearest ones.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &cliUsageError{msg + fmt.Sprintf(" (see `%s --help`)", cmd.CommandPath())}
}

// argsBetween is a cobra.PositionalArgs taking min to max arguments (max < 0: no limit) and
// saying what is missing or extra with the command's usage, instead of cobra's "accepts 2
// arg(s), received 1".
func argsBetween(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min && (max < 0 || len(args) <= max) {
			return nil
		}
		var msg string
		switch {
		case len(args) < min:
			msg = fmt.Sprintf("%s: missing %s", cmd.CommandPath(), missingArgs(cmd, len(args), min))
		default:
			extra := args[max:]
			msg = fmt.Sprintf("%s: unexpected %s %s", cmd.CommandPath(), plural(len(extra), "argument", "arguments"), quoteAll(extra))
			if h := boolValueHint(cmd.Flags(), os.Args[1:], extra); h != "" {
				msg += ": " + h
			}
		}
		return &cliUsageError{fmt.Sprintf("%s\nUsage: %s", msg, cmd.UseLine())}
	}
}

// exactArgs is argsBetween(n, n).
func exactArgs(n int) cobra.PositionalArgs { return argsBetween(n, n) }

// missingArgs names the arguments of the usage line from position have to want: "DST", or "the
// arguments" when the usage line does not name them.
func missingArgs(cmd *cobra.Command, have, want int) string {
	words := strings.Fields(cmd.Use)[1:]
	var names []string
	for _, w := range words {
		if !strings.HasPrefix(w, "-") && !strings.HasPrefix(w, "[") {
			names = append(names, strings.TrimSuffix(w, "..."))
		}
	}
	if len(names) >= want {
		return strings.Join(names[have:want], " and ")
	}
	return fmt.Sprintf("%d of its %d arguments", want-have, want)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, " ")
}

// boolValueHint explains an extra argument that is the value of a boolean flag given as a
// separate word (`--remote false`): a boolean flag takes its value after "=". raw is the
// command line as typed, extra the arguments left over; "" when no such pair is found.
func boolValueHint(fs *pflag.FlagSet, raw, extra []string) string {
	for i := 1; i < len(raw); i++ {
		v := raw[i]
		if v != "true" && v != "false" || !contains(extra, v) {
			continue
		}
		name := strings.TrimLeft(raw[i-1], "-")
		if !strings.HasPrefix(raw[i-1], "-") || strings.Contains(name, "=") {
			continue
		}
		var fl *pflag.Flag
		if strings.HasPrefix(raw[i-1], "--") {
			fl = fs.Lookup(name)
		} else if len(name) == 1 {
			fl = fs.ShorthandLookup(name)
		}
		// A bool flag, or a gadget's bool parameter (a string flag that alone means true).
		if fl == nil || fl.Value.Type() != "bool" && fl.NoOptDefVal != "true" {
			continue
		}
		return fmt.Sprintf("a boolean flag takes its value after '=': write --%s=%s", fl.Name, v)
	}
	return ""
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
