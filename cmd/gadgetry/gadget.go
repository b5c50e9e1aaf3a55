package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/gadgetry/gadgetry/oci/build/sdk"
)

func newGadgetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gadget",
		Short: "Write gadgets: start a new one from a skeleton, keep its SDK current",
		Args:  unknownSubcommand,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newGadgetInitCmd(), newGadgetUpdateSDKCmd(), newGadgetSDKCmd())
	return cmd
}

func newGadgetInitCmd() *cobra.Command {
	var wasmapiDir string
	cmd := &cobra.Command{
		Use:   "init NAME",
		Short: "Write a new gadget skeleton in directory NAME",
		Long: `Writes NAME/ with program.bpf.c (an exec tracer), gadget.yaml, README.md, .gitignore and
go/ (the WASM module, its own Go module using the wasmapi SDK). The skeleton builds and runs
unchanged, anywhere, with no network:

  gadgetry gadget init mygadget
  gadgetry image build -t mygadget:v1 mygadget
  gadgetry run mygadget:v1

NAME is lower case letters, digits and underscores, starting with a letter. go/go.mod requires
the SDK built into this gadgetry by version; ` + "`image build`" + ` supplies it. go/go.work (ignored by
.gitignore) points at a copy of the SDK in the cache directory, so that go build, go vet and
editors find it too; ` + "`gadgetry gadget update-sdk`" + ` refreshes both. With --wasmapi DIR, go.mod
instead replaces the SDK with a checkout's wasmapi/ directory.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return gadgetInit(cmd.OutOrStdout(), args[0], wasmapiDir)
		},
	}
	cmd.Flags().StringVar(&wasmapiDir, "wasmapi", "", "replace the SDK with the wasmapi/ directory of a gadgetry checkout (for SDK development)")
	return cmd
}

func newGadgetUpdateSDKCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "update-sdk DIR",
		Short: "Make a gadget's go/ use the SDK of this gadgetry",
		Long: `Sets the wasmapi requirement in DIR/go/go.mod to the SDK version built into this gadgetry
(` + sdk.Version + `) and rewrites DIR/go/go.work to the SDK's copy in the cache directory, for go
build, go vet and editors. A go.mod that replaces the SDK keeps its replace directive. The
module is not otherwise changed; ` + "`gadgetry image build`" + ` needs none of this, it supplies the
SDK itself.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return gadgetUpdateSDK(cmd.OutOrStdout(), args[0])
		},
	}
}

func newGadgetSDKCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "sdk",
		Short: "Show the SDK built into this gadgetry and write it to the cache directory",
		Long: `Prints the module path and version of the wasmapi SDK built into this gadgetry and the
directory of its copy in the cache ($GADGETRY_SDK_CACHE, else $XDG_CACHE_HOME/gadgetry/sdk),
written if missing: add that directory to a go.work to build a gadget's go/ with plain go
commands.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := sdk.Dir()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n%s\n", sdk.Module, sdk.Version, dir)
			return nil
		},
	}
}

var gadgetNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

func gadgetInit(out io.Writer, dir, wasmapiDir string) error {
	name := filepath.Base(filepath.Clean(dir))
	if !gadgetNameRE.MatchString(name) {
		return fmt.Errorf("gadget init: name %q: use lower case letters, digits and underscores, starting with a letter (it names C identifiers and the image)", name)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("gadget init: %s already exists and is not empty: choose another name or remove it", dir)
	}
	replace := ""
	if wasmapiDir != "" {
		var err error
		if replace, err = wasmapiReplace(dir, wasmapiDir); err != nil {
			return err
		}
	}
	data := struct{ Name, Module, WasmapiModule, Version, Replace string }{
		Name: name, Module: "example.com/gadgets/" + name, WasmapiModule: sdk.Module, Version: sdk.Version, Replace: replace,
	}
	var written []string
	for _, f := range skeleton {
		path := filepath.Join(dir, f.path)
		var b bytes.Buffer
		if err := template.Must(template.New(f.path).Parse(f.text)).Execute(&b, data); err != nil {
			return fmt.Errorf("gadget init: rendering %s: %w", f.path, err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("gadget init: %w", err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("gadget init: %w", err)
		}
		written = append(written, path)
	}
	if replace == "" {
		work, err := editorWorkspace(filepath.Join(dir, "go"))
		if err != nil {
			return fmt.Errorf("gadget init: %w", err)
		}
		written = append(written, work)
	}
	fmt.Fprintf(out, "wrote %s\n", strings.Join(written, "\n      "))
	fmt.Fprintf(out, "\nnext:\n  gadgetry image build -t %s:v1 %s\n  gadgetry run %s:v1\n", name, dir, name)
	return nil
}

// editorWorkspace writes modDir/go.work naming the module and the SDK's cached copy, so that
// plain go commands and editors resolve the SDK; returns its path.
func editorWorkspace(modDir string) (string, error) {
	use, err := sdk.Resolve(modDir)
	if err != nil {
		return "", err
	}
	return sdk.Workspace(modDir, modDir, use)
}

// gadgetUpdateSDK points dir/go at this binary's SDK: the go.mod requirement and go.work.
func gadgetUpdateSDK(out io.Writer, dir string) error {
	modDir := filepath.Join(dir, "go")
	use, err := sdk.Resolve(modDir)
	if err != nil {
		return fmt.Errorf("gadget update-sdk: %w", err)
	}
	if use.Replace != "" {
		fmt.Fprintf(out, "%s/go.mod replaces %s with %s: left as it is\n", modDir, sdk.Module, use.Replace)
		return nil
	}
	if err := sdk.SetRequirement(modDir); err != nil {
		return fmt.Errorf("gadget update-sdk: %w", err)
	}
	work, err := editorWorkspace(modDir)
	if err != nil {
		return fmt.Errorf("gadget update-sdk: %w", err)
	}
	fmt.Fprintf(out, "%s/go.mod requires %s %s\nwrote %s\n", modDir, sdk.Module, sdk.Version, work)
	return nil
}

// wasmapiReplace returns the replace target for the SDK checkout at flag, relative to dir/go
// inside the checkout (the tree moves as a whole), absolute elsewhere.
func wasmapiReplace(dir, flag string) (string, error) {
	abs, err := filepath.Abs(flag)
	if err != nil {
		return "", err
	}
	mod, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil || !bytes.Contains(mod, []byte("module "+sdk.Module)) {
		return "", fmt.Errorf("gadget init: --wasmapi %s: no go.mod of module %s there (give the wasmapi/ directory of a gadgetry checkout)", flag, sdk.Module)
	}
	goDir, err := filepath.Abs(filepath.Join(dir, "go"))
	if err != nil {
		return "", err
	}
	checkout := filepath.Dir(abs)
	if inside, err := filepath.Rel(checkout, goDir); err == nil && !strings.HasPrefix(inside, "..") {
		if rel, err := filepath.Rel(goDir, abs); err == nil {
			return rel, nil
		}
	}
	return abs, nil
}

// skeleton is the new gadget, as templates over {Name, Module, WasmapiModule, Replace}.
var skeleton = []struct{ path, text string }{
	{"program.bpf.c", `// SPDX-License-Identifier: Apache-2.0

//go:build ignore

/*
 * {{.Name}}: one event per exec. Change the tracepoint and struct event to trace something else;
 * the runtime describes the event to users from the struct's BTF.
 */
#include <gadget.h>

struct event {
	struct gadget_process proc;
	gadget_timestamp timestamp;
};

GADGET_TRACER_MAP(events, 256 * 1024);
GADGET_TRACER({{.Name}}, events, event);

SEC("tracepoint/sched/sched_process_exec")
int {{.Name}}_exec(void *ctx)
{
	struct event *e;

	if (gadget_should_discard_mntns_id(gadget_get_current_mntns_id()))
		return 0;
	e = gadget_reserve_buf(events, sizeof(*e));
	if (!e)
		return 0;
	gadget_process_populate(&e->proc);
	e->timestamp = bpf_ktime_get_boot_ns();
	gadget_submit_buf(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`},
	{"gadget.yaml", `name: {{.Name}}
description: Traces execs (a new gadget made by gadgetry gadget init).
datasources:
  {{.Name}}:
    fields:
      proc.comm:
        annotations:
          description: Command name.
          columns.width: "16"
      proc.pid:
        annotations:
          description: Process id.
          columns.width: "7"
      greeting:
        annotations:
          description: A field added by the WASM module.
params:
  wasm:
    greeting:
      key: greeting
      defaultValue: hello
      description: Text the WASM module puts in the greeting field.
`},
	{"README.md", `# {{.Name}}

A gadget made by ` + "`gadgetry gadget init`" + `.

` + "```sh" + `
gadgetry image build -t {{.Name}}:v1 .
gadgetry run {{.Name}}:v1 --greeting=hi
` + "```" + `

- ` + "`program.bpf.c`" + `: the eBPF program (one event per exec).
- ` + "`gadget.yaml`" + `: metadata, field annotations, parameters.
- ` + "`go/`" + `: the WASM module (its own Go module, using the wasmapi SDK): it adds the field
  ` + "`greeting`" + ` to every event.

See docs/authoring.md in the gadgetry repository for the whole path to a registry.
`},
	{".gitignore", `# written by gadgetry gadget init and update-sdk for this machine's SDK copy
go/go.work
go/go.work.sum
`},
	{"go/go.mod", `module {{.Module}}

go 1.23

require {{.WasmapiModule}} {{.Version}}
{{if .Replace}}
replace {{.WasmapiModule}} => {{.Replace}}
{{end -}}
`},
	{"go/main.go", `// Command {{.Name}} is the WASM module of the {{.Name}} gadget.
package main

import "{{.WasmapiModule}}"

func init() {
	wasmapi.OnInit(func() error {
		ds, err := wasmapi.GetDataSource("{{.Name}}")
		if err != nil {
			return err
		}
		greeting, err := ds.AddField("greeting", wasmapi.KindString)
		if err != nil {
			return err
		}
		text, err := wasmapi.GetParamValue("greeting")
		if err != nil {
			return err
		}
		return ds.Subscribe(func(ds wasmapi.DataSource, d wasmapi.Data) error {
			return greeting.SetString(d, text)
		}, 0)
	})
}

func main() {}
`},
}
