package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// proseWords follow "gadgetry " in the program's strings without naming a command ("the
// gadgetry binary"). A new hint naming a command that does not exist fails the test below
// unless its word is listed here: add a word only for prose.
var proseWords = map[string]bool{
	"binary": true, "checkout": true, "provides": true, "builds": true, "verifies": true,
	"signs": true, "repository": true, "and": true, "is": true, "or": true, "test": true,
	"runs": true, "reads": true, "uses": true, "cli": true, "module": true, "sdk": true,
	"bench": true, "itself": true, "process": true, "to": true, "can": true, "in": true,
	"has": true, "does": true, "writes": true, "sees": true, "keeps": true, "with": true,
	"of": true, "on": true, "as": true, "at": true, "for": true, "was": true, "the": true,
	"store": true, "host": true, "config": true, "cache": true, "catalogue": true, "by": true,
	"waiting": true, "talk": true, "did": true, "exited": true, "still": true,
	// "namespace gadgetry may run", the pause image's "gadgetry pause", an image history's
	// "gadgetry selfimage".
	"may": true, "pause": true, "selfimage": true,
}

var hintRE = regexp.MustCompile(`gadgetry((?: [a-z][a-z0-9_-]*)+)`)

// TestHintsNameCommands: every "gadgetry COMMAND ..." in the program's strings (error hints,
// help texts, warnings) names a command that exists: each is found in the Go sources outside
// tests and its `--help` is run through the built binary.
func TestHintsNameCommands(t *testing.T) {
	root := filepath.Join("..", "..")
	paths := map[string][]string{} // command path → where it is named
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "node_modules", "vmtest", "bench", "examples":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil // a nested module's file for another platform, say: not ours to judge
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, m := range hintRE.FindAllStringSubmatch(s, -1) {
				where := fset.Position(lit.Pos()).String()
				path, err := commandPath(newRootCmd(), strings.Fields(m[1]))
				if err != nil {
					t.Errorf("%s: %q: %v", where, m[0], err)
					continue
				}
				if path != "" {
					paths[path] = append(paths[path], where)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"login", "image pull", "image rm", "image sign", "run"} {
		if _, ok := paths[want]; !ok {
			t.Errorf("no hint names `gadgetry %s`: is the scan finding the sources? found %v", want, keys(paths))
		}
	}
	env := cliEnv(t)
	for _, p := range keys(paths) {
		r := runCLI(t, env, "", append(strings.Fields(p), "--help")...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("`gadgetry %s --help` (named at %s): exit %d\n%s%s", p, strings.Join(paths[p], ", "), r.code, r.stdout, r.stderr)
		}
	}
	t.Logf("commands named in hints: %v", keys(paths))
}

// commandPath returns the longest run of words that names a command of root ("image pull");
// "" when the first word is prose (proseWords); an error when it is neither.
func commandPath(root *cobra.Command, words []string) (string, error) {
	cmd := root
	var path []string
	for _, w := range words {
		var next *cobra.Command
		for _, c := range cmd.Commands() {
			if c.Name() == w || c.HasAlias(w) {
				next = c
			}
		}
		if next == nil {
			break
		}
		cmd, path = next, append(path, next.Name())
	}
	if len(path) == 0 {
		if proseWords[strings.ToLower(words[0])] {
			return "", nil
		}
		return "", os.ErrNotExist
	}
	return strings.Join(path, " "), nil
}

func keys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
