package main

import (
	"strings"
	"testing"
)

// complete asks the built binary what completes the command line words (the last one being
// the word under the cursor), as the shell scripts of `gadgetry completion` do, and returns
// the candidates (without descriptions) and the directive line.
func complete(t *testing.T, env []string, words ...string) ([]string, string) {
	t.Helper()
	out := runCLI(t, env, "", append([]string{"__complete"}, words...)...).ok(t)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var cands []string
	for _, l := range lines[:len(lines)-1] {
		c, _, _ := strings.Cut(l, "\t")
		cands = append(cands, c)
	}
	return cands, lines[len(lines)-1]
}

// TestCompletion: `gadgetry completion bash|zsh|fish` writes a script for that shell, and what
// the scripts ask the binary completes subcommands, flags, built-in and stored gadget names,
// the gadget's parameters and their values, and --fields and -F field names.
func TestCompletion(t *testing.T) {
	env := cliEnv(t)
	for shell, marker := range map[string]string{"bash": "__start_gadgetry", "zsh": "#compdef gadgetry", "fish": "complete -c gadgetry"} {
		if out := runCLI(t, env, "", "completion", shell).ok(t); !strings.Contains(out, marker) {
			t.Errorf("completion %s: no %q in the script:\n%.300s", shell, marker, out)
		}
	}
	runCLI(t, env, "", "image", "tag", "trace_exec", "localhost:5000/team/mygadget:v1").ok(t)
	runCLI(t, env, "", "image", "tag", "trace_exec", "mine").ok(t)
	for _, tc := range []struct {
		words     []string
		want      []string // among the candidates
		directive string
	}{
		{[]string{""}, []string{"run", "image", "version", "completion", "login"}, ":4"},
		{[]string{"im"}, []string{"image"}, ":4"},
		{[]string{"run", ""}, []string{"trace_exec", "traceloop", "block_exec", "mine", "localhost:5000/team/mygadget:v1"}, ":4"},
		{[]string{"run", "./"}, []string{"o"}, ":8"}, // .o files
		{[]string{"run", "--"}, []string{"--fields", "--filter", "--output", "--wide", "--quiet", "--summary"}, ":4"},
		{[]string{"run", "trace_exec", "--"}, []string{"--fields", "--ignore-failed", "--pid", "--comm"}, ":4"},
		{[]string{"run", "mine", "--"}, []string{"--ignore-failed"}, ":4"},
		{[]string{"run", "trace_exec", "-o", ""}, []string{"columns", "wide", "json", "jsonpretty", "yaml"}, ":4"},
		{[]string{"run", "trace_exec", "--output=j"}, []string{"--output=json", "--output=jsonpretty"}, ":4"},
		{[]string{"run", "trace_exec", "--pull", ""}, []string{"always", "missing", "never"}, ":4"},
		{[]string{"run", "trace_exec", "--ignore-failed="}, []string{"--ignore-failed=true", "--ignore-failed=false"}, ":4"},
		{[]string{"run", "trace_exec", "--fields", ""}, []string{"proc.comm", "proc.pid", "exepath", "upper_layer", "runtime.containerName"}, ":6"},
		{[]string{"run", "trace_exec", "--fields", "proc.comm,+"}, []string{"proc.comm,+exepath", "proc.comm,+args"}, ":6"},
		{[]string{"run", "trace_exec", "-F", ""}, []string{"proc.comm", "upper_layer"}, ":6"},
		{[]string{"run", "traceloop", "--fields=sys"}, []string{"--fields=syscall"}, ":6"},
	} {
		got, directive := complete(t, env, tc.words...)
		for _, w := range tc.want {
			if !contains(got, w) {
				t.Errorf("completing %q: no %q among %v", tc.words, w, got)
			}
		}
		if directive != tc.directive {
			t.Errorf("completing %q: directive %s, want %s", tc.words, directive, tc.directive)
		}
	}
}
