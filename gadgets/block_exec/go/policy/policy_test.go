package policy

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	rules, err := ParseList("deny-paths", " /bin/sh, /usr/bin/*sh ,/bin/sh,/memfd:*,/x,/usr/bin/py*3*")
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{ID: 1, Text: "/bin/sh"},
		{ID: 2, Text: "/usr/bin/*sh", Dir: "/usr/bin", Pattern: "*sh"},
		{ID: 3, Text: "/memfd:*", Dir: "/", Pattern: "memfd:*"},
		{ID: 4, Text: "/x"},
		{ID: 5, Text: "/usr/bin/py*3*", Dir: "/usr/bin", Pattern: "py*3*"},
	}
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("got %+v\nwant %+v", rules, want)
	}
}

// TestParseErrors: every policy that cannot match anything, or contradicts itself, is refused
// with a message naming the parameter and the entry, and what to write instead.
func TestParseErrors(t *testing.T) {
	long := "/" + strings.Repeat("a", KeySize)
	manyGlobs := make([]string, GlobsPerDir+1)
	for i := range manyGlobs {
		manyGlobs[i] = "/usr/bin/" + strings.Repeat("x", i+1) + "*"
	}
	for _, c := range []struct {
		name string
		p    Params
		want string
	}{
		{"relative", Params{DenyPaths: "sh"}, `--deny-paths: entry 1 "sh" is not an absolute path, so no executable's path can match it; write the whole path, such as /usr/bin/sh`},
		{"dot relative", Params{AllowPaths: "/bin/true,./app"}, `--allow-paths: entry 2 "./app" is not an absolute path`},
		{"empty entry", Params{DenyPaths: "/bin/sh,,/bin/bash"}, `--deny-paths=/bin/sh,,/bin/bash: entry 2 is empty; remove the extra comma`},
		{"trailing comma", Params{DenyPaths: "/bin/sh,"}, `--deny-paths=/bin/sh,: entry 2 is empty`},
		{"only spaces", Params{DenyPaths: " , "}, `--deny-paths= , : entry 1 is empty`},
		{"not canonical", Params{DenyPaths: "/usr//bin/sh"}, `entry 1 "/usr//bin/sh" is not in canonical form, so it cannot match the canonical path of an executable; write /usr/bin/sh`},
		{"dot dot", Params{DenyPaths: "/usr/bin/../bin/sh"}, `write /usr/bin/sh`},
		{"trailing slash", Params{DenyPaths: "/bin/"}, `"/bin/" is not in canonical form`},
		{"root", Params{DenyPaths: "/"}, `entry 1 "/" names the root directory, not a file`},
		{"glob in a directory", Params{DenyPaths: "/usr/*/sh"}, `entry 1 "/usr/*/sh" has a * before its last component; a glob may only be in the last component`},
		{"too long", Params{DenyPaths: long}, "is 257 bytes long; at most 255 fit"},
		{"glob too long", Params{DenyPaths: "/a/" + strings.Repeat("b", GlobSize) + "*"}, "has a glob of 129 bytes; at most 127 fit"},
		{"too many globs in a directory", Params{DenyPaths: strings.Join(manyGlobs, ",")}, "is glob number 17 in /usr/bin; at most 16 globs per directory fit"},
		{"both lists", Params{DenyPaths: "/bin/sh", AllowPaths: "/bin/true"}, "--deny-paths and --allow-paths exclude each other"},
		{"nothing", Params{}, "nothing to enforce: give --deny-paths, --allow-paths or --deny-upper-layer"},
		{"nothing but audit", Params{Mode: "audit", DenyUpperLayer: "false"}, "nothing to enforce"},
		{"bad mode", Params{DenyPaths: "/bin/sh", Mode: "maybe"}, "--mode=maybe: want enforce (stop the exec) or audit (only report it)"},
		{"bad bool", Params{DenyUpperLayer: "yes please"}, "--deny-upper-layer=yes please: want true or false"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse(%+v) = %v, want an error with %q", c.p, err, c.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	p, err := Parse(Params{AllowPaths: "/bin/busybox", DenyUpperLayer: "true", Mode: "audit", Host: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Allow || !p.DenyUpperLayer || !p.Audit || !p.Host || len(p.Rules) != 1 {
		t.Errorf("%+v", p)
	}
	if got := p.PolicyValue(); !bytes.Equal(got, []byte{1, 1, 1, 1}) {
		t.Errorf("policy value %v", got)
	}
	p, err = Parse(Params{DenyUpperLayer: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.PolicyValue(); !bytes.Equal(got, []byte{1, 0, 1, 0}) {
		t.Errorf("policy value %v, want enabled, deny-upper-layer only", got)
	}
}

// TestEntries checks the bytes the kernel's maps get against program.bpf.c's layouts.
func TestEntries(t *testing.T) {
	p, err := Parse(Params{DenyPaths: "/bin/sh,/usr/bin/*sh,/usr/bin/py*,/bin/x*"})
	if err != nil {
		t.Fatal(err)
	}
	paths := p.PathEntries()
	if len(paths) != 1 || len(paths[0].Key) != KeySize || string(bytes.TrimRight(paths[0].Key, "\x00")) != "/bin/sh" ||
		binary.LittleEndian.Uint32(paths[0].Value) != 1 {
		t.Errorf("path entries %+v", paths)
	}
	globs := p.GlobEntries()
	if len(globs) != 2 {
		t.Fatalf("%d glob directories, want 2", len(globs))
	}
	for i, want := range []struct {
		dir      string
		ids      []uint32
		patterns []string
	}{{"/usr/bin", []uint32{2, 3}, []string{"*sh", "py*"}}, {"/bin", []uint32{4}, []string{"x*"}}} {
		g := globs[i]
		if string(bytes.TrimRight(g.Key, "\x00")) != want.dir || len(g.Key) != KeySize {
			t.Errorf("glob directory %q", g.Key)
		}
		if len(g.Value) != 8+GlobsPerDir*(8+GlobSize) {
			t.Fatalf("glob_set of %d bytes", len(g.Value))
		}
		if n := binary.LittleEndian.Uint32(g.Value); n != uint32(len(want.ids)) {
			t.Errorf("%s: count %d, want %d", want.dir, n, len(want.ids))
		}
		for j, id := range want.ids {
			e := g.Value[8+j*(8+GlobSize):]
			pat := want.patterns[j]
			if binary.LittleEndian.Uint32(e) != id || binary.LittleEndian.Uint32(e[4:]) != uint32(len(pat)) ||
				string(bytes.TrimRight(e[8:8+GlobSize], "\x00")) != pat {
				t.Errorf("%s glob %d: %v", want.dir, j, e[:8+len(pat)])
			}
		}
	}
}

func TestDescribe(t *testing.T) {
	p, err := Parse(Params{DenyPaths: "/bin/sh,/usr/bin/*sh"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		reason, which uint8
		rule          uint32
		text, matched string
	}{
		{ReasonDenied, WhichInterp, 1, "deny-paths=/bin/sh", "interp"},
		{ReasonDenied, WhichExepath, 2, "deny-paths=/usr/bin/*sh", "exepath"},
		{ReasonUpperLayer, WhichExepath, 0, "deny-upper-layer", "exepath"},
		{ReasonNotAllowed, WhichFile, 0, "allow-paths", "file"},
	} {
		text, matched := p.Describe(c.reason, c.which, c.rule)
		if text != c.text || matched != c.matched {
			t.Errorf("Describe(%d, %d, %d) = %q, %q; want %q, %q", c.reason, c.which, c.rule, text, matched, c.text, c.matched)
		}
	}
	if ActionName(ActionKilled) != "killed" || ActionName(ActionDenied) != "denied" || ActionName(ActionAudited) != "audited" ||
		MechanismName(MechanismLSM) != "lsm" || MechanismName(MechanismKill) != "kill" {
		t.Error("action or mechanism names")
	}
}

func TestScope(t *testing.T) {
	p := &Policy{}
	if err := p.Scope(false); err == nil || !strings.Contains(err.Error(), "no containers selected") || !strings.Contains(err.Error(), "--host") {
		t.Errorf("no selection, no --host: %v", err)
	}
	if err := p.Scope(true); err != nil {
		t.Error(err)
	}
	p.Host = true
	if err := p.Scope(false); err != nil {
		t.Error(err)
	}
	if err := p.Scope(true); err == nil || !strings.Contains(err.Error(), "cannot be combined") {
		t.Errorf("--host with a selection: %v", err)
	}
}

// FuzzParseList: any input is refused or gives rules that fit the kernel's maps.
func FuzzParseList(f *testing.F) {
	f.Add("/bin/sh,/usr/bin/*sh")
	f.Add("sh,,/x/../y")
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := ParseList("deny-paths", s)
		if err != nil {
			return
		}
		for _, r := range rules {
			if !strings.HasPrefix(r.Text, "/") || len(r.Text) >= KeySize && r.Pattern == "" ||
				r.Pattern != "" && (len(r.Dir) >= KeySize || len(r.Pattern) >= GlobSize || strings.Contains(r.Dir, "*")) {
				t.Errorf("rule %+v does not fit", r)
			}
		}
		p := &Policy{Rules: rules}
		p.PathEntries()
		p.GlobEntries()
	})
}
