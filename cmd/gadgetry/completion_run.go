package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gadgetry/gadgetry/gadgets/catalogue"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// completeRun completes `gadgetry run` (the shell scripts of `gadgetry completion` call it
// through cobra's __complete): REF (the built-in gadgets, the images of the local store, .o
// files), run's flags and the gadget's parameters, and flag values (-o, --pull, --summary, a
// parameter's possible values, --fields and -F field names). run parses its own flags
// (DisableFlagParsing), so args holds every word before the one being completed.
func completeRun(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	rf, fs, ociF := runCompletionFlags()
	_ = fs.Parse(args)
	ref := ""
	if fs.NArg() > 0 {
		ref = fs.Arg(0)
	}
	// The value of the flag before: "-o" "js", or "--output=js".
	flagName, prefix, value := "", "", toComplete
	if strings.HasPrefix(toComplete, "-") && strings.Contains(toComplete, "=") {
		i := strings.Index(toComplete, "=")
		flagName, prefix, value = strings.TrimLeft(toComplete[:i], "-"), toComplete[:i+1], toComplete[i+1:]
	} else if n := len(args); n > 0 && strings.HasPrefix(args[n-1], "-") && !strings.Contains(args[n-1], "=") {
		if f := lookupFlag(fs, args[n-1]); f != nil && f.NoOptDefVal == "" {
			flagName = f.Name
		}
	}
	if flagName != "" {
		if f := lookupFlag(fs, flagName); f != nil {
			flagName = f.Name
		}
		return completeRunFlagValue(flagName, ref, ociF, rf, prefix, value)
	}
	if strings.HasPrefix(toComplete, "-") {
		var out []string
		add := func(f *pflag.Flag) {
			if !f.Hidden {
				out = append(out, "--"+f.Name+"\t"+firstLine(f.Usage))
			}
		}
		fs.VisitAll(add)
		if g := completionGadget(ref, ociF); g != nil {
			gadgetParamFlags(g, map[string]*string{}).VisitAll(add)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	if ref != "" {
		return nil, cobra.ShellCompDirectiveNoFileComp // REF is the only argument
	}
	if strings.HasPrefix(toComplete, ".") || strings.HasPrefix(toComplete, "/") {
		return []string{"o"}, cobra.ShellCompDirectiveFilterFileExt // a compiled object
	}
	return gadgetNames(ociF), cobra.ShellCompDirectiveNoFileComp
}

// runCompletionFlags returns run's flags (as run defines them) on a set that accepts any flag.
func runCompletionFlags() (*runFlags, *pflag.FlagSet, *ociFlags) {
	var rf runFlags
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	fs.SetOutput(io.Discard)
	rf.register(fs)
	ociF := bindOCIFlags(fs)
	bindTrustFlags(fs)
	return &rf, fs, ociF
}

// lookupFlag finds a flag by "--name", "-n" or "name".
func lookupFlag(fs *pflag.FlagSet, word string) *pflag.Flag {
	name := strings.TrimLeft(word, "-")
	if strings.HasPrefix(word, "--") || !strings.HasPrefix(word, "-") {
		return fs.Lookup(name)
	}
	if len(name) == 1 {
		return fs.ShorthandLookup(name)
	}
	return nil
}

// firstLine returns s up to its first ". " or "; " (a flag's usage, shortened for a menu).
func firstLine(s string) string {
	for _, sep := range []string{". ", "; ", "\n"} {
		if i := strings.Index(s, sep); i > 0 {
			s = s[:i]
		}
	}
	return s
}

// completeRunFlagValue completes the value of flag name; prefix ("--output=") goes before each
// candidate.
func completeRunFlagValue(name, ref string, ociF *ociFlags, rf *runFlags, prefix, value string) ([]string, cobra.ShellCompDirective) {
	with := func(vals ...string) []string {
		out := make([]string, 0, len(vals))
		for _, v := range vals {
			out = append(out, prefix+v)
		}
		return out
	}
	switch name {
	case "output":
		return with("columns", "wide", "json", "jsonpretty", "yaml"), cobra.ShellCompDirectiveNoFileComp
	case "pull":
		return with("always", "missing", "never"), cobra.ShellCompDirectiveNoFileComp
	case "summary":
		return with("text", "json", "none"), cobra.ShellCompDirectiveNoFileComp
	case "store", "summary-file", "authfile", "registry-ca", "public-keys", "runc-root":
		return nil, cobra.ShellCompDirectiveDefault
	case "fields", "filter":
		g := completionGadget(ref, ociF)
		if g == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		// --fields a,+b,-c: complete the last item; -F a==1,b: the field of the last rule.
		head, last := "", value
		if i := strings.LastIndex(value, ","); i >= 0 {
			head, last = value[:i+1], value[i+1:]
		}
		if name == "fields" && (strings.HasPrefix(last, "+") || strings.HasPrefix(last, "-")) {
			head, last = head+last[:1], last[1:]
		}
		_ = last // the shell filters by prefix
		var out []string
		for _, f := range completionFields(g) {
			out = append(out, prefix+head+f)
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
	if g := completionGadget(ref, ociF); g != nil {
		for _, p := range g.Params {
			if p.Key != name {
				continue
			}
			switch {
			case len(p.PossibleValues) > 0:
				return with(p.PossibleValues...), cobra.ShellCompDirectiveNoFileComp
			case p.Kind == datasource.KindBool:
				return with("true", "false"), cobra.ShellCompDirectiveNoFileComp
			}
		}
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completionGadget prepares the gadget ref names, from the built-in catalogue, the local store
// or an object file, never from a registry; nil when there is none.
func completionGadget(ref string, ociF *ociFlags) *runtime.Gadget {
	if ref == "" {
		return nil
	}
	ctx := context.Background()
	img, err := runSource(ociF, nil, nil).Resolve(ctx, ref, oci.PullNever, goruntime.GOARCH)
	if err != nil {
		return nil
	}
	g, err := runtime.New(runtime.Options{}).Prepare(ctx, img)
	if err != nil {
		return nil
	}
	return g
}

// completionFields lists the field names a user can give --fields and -F: every data source's
// visible fields, and the container fields of a gadget that records mount namespaces.
func completionFields(g *runtime.Gadget) []string {
	dss, _ := g.NewDataSources()
	seen := map[string]bool{}
	var out []string
	for _, ds := range dss {
		if g.HasMntnsField() {
			_ = containers.AddEnrichment(ds, nil) // adds the fields; nothing runs
		}
		for _, f := range ds.Fields() {
			if !f.Hidden && !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, f.Name)
			}
		}
	}
	return out
}

// gadgetNames lists what REF can be: the built-in gadgets, then the images of the local store
// (when there is one: completing creates none), the default registry's by their bare names.
func gadgetNames(ociF *ociFlags) []string {
	ctx := context.Background()
	var out []string
	if cat, err := catalogue.Open(ctx); err == nil {
		if names, err := oci.Tags(ctx, cat); err == nil {
			for _, n := range names {
				if !strings.Contains(n, ":") {
					out = append(out, n+"\tbuilt-in gadget")
				}
			}
		}
	}
	sort.Strings(out)
	if _, err := os.Stat(filepath.Join(ociF.storeDir(), "index.json")); err != nil {
		return out
	}
	s, err := ociF.openStore()
	if err != nil {
		return out
	}
	entries, err := s.List(ctx)
	if err != nil {
		return out
	}
	prefix, _ := ociF.defaultPrefix()
	var stored []string
	for _, e := range entries {
		ref := e.Ref
		if bare, ok := strings.CutPrefix(ref, prefix+"/"); ok && !strings.Contains(bare, "/") {
			ref = strings.TrimSuffix(bare, ":"+oci.DefaultTag)
		}
		stored = append(stored, ref+"\timage in the local store")
	}
	sort.Strings(stored)
	return append(out, slices.Compact(stored)...)
}
