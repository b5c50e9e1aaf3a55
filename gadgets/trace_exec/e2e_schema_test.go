package traceexec_test

import (
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gadgetry/gadgetry/internal/testutil/runc"
)

// jsonType names the JSON type of a decoded value as the schema below spells it.
func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// igSchema is the JSON of Inspektor Gadget's trace_exec for the fields both tools have:
// every enrichment field (runtime.*, k8s.*) and the record's fields IG's trace_exec has,
// with IG's JSON types (docs/compatibility.md, "Output schema"). Not here, as they differ by
// the gadget's design: args (a list here, a string built by IG's guest), tty (the terminal's
// name here, a number in IG's), args_count and args_size (json.skip here).
var igSchema = map[string]string{
	"runtime.containerName":        "string",
	"runtime.runtimeName":          "string",
	"runtime.containerId":          "string",
	"runtime.containerPid":         "number",
	"runtime.containerImageName":   "string",
	"runtime.containerImageDigest": "string",
	"runtime.containerStartedAt":   "number",
	"k8s.node":                     "string",
	"k8s.namespace":                "string",
	"k8s.podName":                  "string",
	"k8s.containerName":            "string",
	"k8s.hostnetwork":              "bool",
	"k8s.podLabels":                "string",
	"k8s.owner.kind":               "string",
	"k8s.owner.name":               "string",
	"timestamp":                    "string",
	"timestamp_raw":                "number",
	"error":                        "string",
	"error_raw":                    "number",
	"loginuid":                     "number",
	"loginuser":                    "string",
	"sessionid":                    "number",
	"cwd":                          "string",
	"file":                         "string",
	"exepath":                      "string",
	"proc.comm":                    "string",
	"proc.pid":                     "number",
	"proc.tid":                     "number",
	"proc.mntns_id":                "number",
	"proc.creds.uid":               "number",
	"proc.creds.user":              "string",
	"proc.creds.gid":               "number",
	"proc.creds.group":             "string",
	"proc.parent.comm":             "string",
	"proc.parent.pid":              "number",
}

// checkSchema reports every field of igSchema e lacks or has with another JSON type, and the
// names Gadgetry wrote before it took IG's.
func checkSchema(t *testing.T, what string, e ev) {
	t.Helper()
	var bad []string
	for name, typ := range igSchema {
		if got := jsonType(e.Get(name)); got != typ {
			bad = append(bad, fmt.Sprintf("%s is %s, want %s", name, got, typ))
		}
	}
	for _, old := range []string{"container", "k8s.pod", "k8s.container"} {
		if e.Get(old) != nil {
			bad = append(bad, "the old field "+old+" is there")
		}
	}
	// upper_layer and its siblings are tri-states here (true, false, null when unknown):
	// IG's are booleans.
	for _, name := range []string{"upper_layer", "fupper_layer", "pupper_layer"} {
		if typ := jsonType(e.Get(name)); typ != "bool" && typ != "null" {
			bad = append(bad, fmt.Sprintf("%s is %s, want bool or null", name, typ))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%s: %s\n(event %s)", what, strings.Join(bad, "; "), e)
	}
}

// TestE2EOutputSchema pins the JSON field names and types of trace_exec's enriched output to
// Inspektor Gadget's, for an exec in a runc container and one on the host (every enrichment
// field there too, empty: "", 0, false), and the values the container's fields hold.
func TestE2EOutputSchema(t *testing.T) {
	env := containerEnv(t)
	name := randName("schema-")
	before := time.Now()
	c := env.Start(runc.Options{Name: name})
	r := startRunUnsynced(t, "--runc-root", env.Root)
	tag := randName("tag-")
	e := r.WaitFor("the exec in "+name, inContainer(c, tag), func() { execIn(t, env, c, "/bin/true", tag) })
	checkSchema(t, "the container's exec", e)
	for field, want := range map[string]string{"runtime.containerName": name, "runtime.containerId": c.ID,
		"runtime.runtimeName": "runc", "k8s.node": "", "k8s.podName": "", "proc.comm": "true"} {
		if got := e.Str(field); got != want {
			t.Errorf("%s %q, want %q", field, got, want)
		}
	}
	if got := e.Num("runtime.containerPid"); got != uint64(c.Pid) {
		t.Errorf("runtime.containerPid %d, want the init's pid %d", got, c.Pid)
	}
	if hn, _ := e.Get("k8s.hostnetwork").(bool); hn {
		t.Error("k8s.hostnetwork true for a container with its own network namespace")
	}
	// runc's state says when it created the container: after before, and before the exec.
	started := time.Unix(0, int64(e.Get("runtime.containerStartedAt").(float64)))
	if started.Before(before.Add(-time.Second)) || started.After(e.Time("timestamp")) {
		t.Errorf("runtime.containerStartedAt %s, want between %s and the exec's %s", started, before, e.Time("timestamp"))
	}
	// timestamp_raw is the time in ns since the epoch, as IG's (a float64 here: µs precision).
	if raw := time.Unix(0, int64(e.Get("timestamp_raw").(float64))); raw.Sub(e.Time("timestamp")).Abs() > time.Millisecond {
		t.Errorf("timestamp_raw %s, timestamp %s", raw, e.Time("timestamp"))
	}
	if e.Num("loginuid") == 4294967295 && e.Str("loginuser") != "uid:4294967295" {
		t.Errorf("loginuser %q of an unset loginuid, want IG's uid:4294967295", e.Str("loginuser"))
	}

	hostTag := randName("host-")
	h := r.WaitFor("the host exec", func(e ev) bool { return slices.Equal(e.List("args"), []string{"/bin/true", hostTag}) },
		func() { _ = exec.Command("/bin/true", hostTag).Run() })
	checkSchema(t, "the host's exec", h)
	for field := range igSchema {
		if v := h.Get(field); (strings.HasPrefix(field, "runtime.") || strings.HasPrefix(field, "k8s.")) && v != "" && v != 0.0 && v != false {
			t.Errorf("host exec: %s %v, want empty", field, v)
		}
	}
	r.Stop()
}
