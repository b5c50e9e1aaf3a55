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
)

func newGadgetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gadget",
		Short: "Write gadgets: start a new one from a skeleton",
	}
	cmd.AddCommand(newGadgetInitCmd())
	return cmd
}

// wasmapiModule is the module path of the guest SDK.
const wasmapiModule = "github.com/gadgetry/gadgetry/wasmapi"

func newGadgetInitCmd() *cobra.Command {
	var wasmapiDir string
	cmd := &cobra.Command{
		Use:   "init NAME",
		Short: "Write a new gadget skeleton in directory NAME",
		Long: `Writes NAME/ with program.bpf.c (an exec tracer), gadget.yaml, README.md and go/ (the
WASM module, its own Go module using the wasmapi SDK). The skeleton builds and runs unchanged:

  gadgetry gadget init mygadget
  gadgetry image build -t mygadget:v1 mygadget
  gadgetry run mygadget:v1

NAME is lower case letters, digits and underscores, starting with a letter. The WASM module's
go.mod points at a local wasmapi checkout with a replace directive: --wasmapi, or the wasmapi/
of the gadgetry checkout the current directory is in.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return gadgetInit(cmd.OutOrStdout(), args[0], wasmapiDir)
		},
	}
	cmd.Flags().StringVar(&wasmapiDir, "wasmapi", "", "directory of the wasmapi SDK module (default: found in the enclosing gadgetry checkout)")
	return cmd
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
	replace, note, err := wasmapiReplace(dir, wasmapiDir)
	if err != nil {
		return err
	}
	data := struct{ Name, Module, WasmapiModule, Replace string }{
		Name: name, Module: "example.com/gadgets/" + name, WasmapiModule: wasmapiModule, Replace: replace,
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
	fmt.Fprintf(out, "wrote %s\n", strings.Join(written, "\n      "))
	if note != "" {
		fmt.Fprintln(out, note)
	}
	fmt.Fprintf(out, "\nnext:\n  gadgetry image build -t %s:v1 %s\n  gadgetry run %s:v1\n", name, dir, name)
	return nil
}

// wasmapiReplace returns the replace target for the SDK, relative to dir/go when possible.
func wasmapiReplace(dir, flag string) (replace, note string, err error) {
	sdk := flag
	if sdk == "" {
		sdk = findWasmapi()
	}
	if sdk == "" {
		return "", "note: no wasmapi checkout found: go/go.mod requires " + wasmapiModule +
			" without a replace directive; add `replace " + wasmapiModule + " => <gadgetry checkout>/wasmapi` " +
			"to go/go.mod, or rerun with --wasmapi", nil
	}
	abs, err := filepath.Abs(sdk)
	if err != nil {
		return "", "", err
	}
	mod, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil || !bytes.Contains(mod, []byte("module "+wasmapiModule)) {
		return "", "", fmt.Errorf("gadget init: --wasmapi %s: no go.mod of module %s there (give the wasmapi/ directory of a gadgetry checkout)", sdk, wasmapiModule)
	}
	goDir, err := filepath.Abs(filepath.Join(dir, "go"))
	if err != nil {
		return "", "", err
	}
	// Relative inside the checkout (the tree moves as a whole), absolute elsewhere.
	checkout := filepath.Dir(abs)
	if inside, err := filepath.Rel(checkout, goDir); err == nil && !strings.HasPrefix(inside, "..") {
		if rel, err := filepath.Rel(goDir, abs); err == nil {
			return rel, "", nil
		}
	}
	return abs, "", nil
}

// findWasmapi looks for wasmapi/go.mod in the current directory and its parents.
func findWasmapi() string {
	d, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(d, "wasmapi")
		if b, err := os.ReadFile(filepath.Join(p, "go.mod")); err == nil && bytes.Contains(b, []byte("module "+wasmapiModule)) {
			return p
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
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
	{"go/go.mod", `module {{.Module}}

go 1.23

require {{.WasmapiModule}} v0.0.0
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
