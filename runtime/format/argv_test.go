package format

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

func TestAppendArgv(t *testing.T) {
	for _, c := range []struct {
		in         string
		text, json string
	}{
		{"", "", `[]`},
		{"ls\x00-l\x00/tmp\x00", "ls -l /tmp", `["ls","-l","/tmp"]`},
		{"ls\x00-l\x00/tm", "ls -l /tm", `["ls","-l","/tm"]`}, // cut: the last NUL is missing
		{"sh\x00-c\x00echo a b\x00", "sh -c 'echo a b'", `["sh","-c","echo a b"]`},
		{"echo\x00it's\x00", `echo 'it'\''s'`, `["echo","it's"]`},
		{"a\x00\x00b\x00", "a '' b", `["a","","b"]`},
		// Empty arguments at the end are arguments (found by a user: "true a ''" lost its '').
		{"a\x00\x00", "a ''", `["a",""]`},
		{"\x00", "''", `[""]`},
		{"\x00\x00", "'' ''", `["",""]`},
		{"printf\x00a\nb\x00", `printf $'a\nb'`, `["printf","a\nb"]`},
		{"x\x00\"q\"\x00", `x '"q"'`, `["x","\"q\""]`},
		{"caf\xc3\xa9\x00", "café", `["café"]`},
		{"echo\x00\x1b[31mred\x00", `echo $'\e[31mred'`, `["echo","\u001b[31mred"]`},
	} {
		if got := string(AppendArgv(nil, []byte(c.in), false)); got != c.text {
			t.Errorf("text of %q: got %s, want %s", c.in, got, c.text)
		}
		got := AppendArgv(nil, []byte(c.in), true)
		if string(got) != c.json {
			t.Errorf("json of %q: got %s, want %s", c.in, got, c.json)
		}
		var l []string
		if err := json.Unmarshal(got, &l); err != nil {
			t.Errorf("json of %q is not a list of strings: %v", c.in, err)
		}
	}
}

// argvRecord builds a data source like trace_exec's: a char args[32] with args_size.
func argvRecord(t testing.TB, annotate bool) (*datasource.DataSource, *datasource.Field, *datasource.Data) {
	ds := datasource.New("exec", datasource.TypeSingle, 36)
	size, err := ds.AddStaticField("args_size", datasource.KindUint32, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	args, err := ds.AddStaticField("args", datasource.KindCString, 4, 32)
	if err != nil {
		t.Fatal(err)
	}
	if annotate {
		args.Annotations[ValueFormatAnnotation] = ValueFormatArgv
		args.Annotations[ValueSizeFieldAnnotation] = "args_size"
	}
	d := ds.NewData()
	// "ls", "-l", "a b" and stale bytes after args_size that must not show.
	copy(d.Raw[4:], "ls\x00-l\x00a b\x00stale\x00")
	if err := size.SetUint(d, 10); err != nil {
		t.Fatal(err)
	}
	return ds, args, d
}

func TestArgvAnnotation(t *testing.T) {
	_, args, d := argvRecord(t, true)
	fm := New()
	if got := fm.Text(args, d); got != "ls -l 'a b'" {
		t.Errorf("text: %q", got)
	}
	if got := string(fm.AppendJSON(nil, args, d)); got != `["ls","-l","a b"]` {
		t.Errorf("json: %s", got)
	}
	// Without the annotation a char array is a C string: argv[0] only.
	_, plain, d2 := argvRecord(t, false)
	if got := string(fm.AppendJSON(nil, plain, d2)); got != `"ls"` {
		t.Errorf("plain json: %s", got)
	}
}

func TestArgvWithoutSizeField(t *testing.T) {
	_, args, d := argvRecord(t, true)
	args.Annotations[ValueSizeFieldAnnotation] = "no_such_field"
	fm := New()
	// No usable size: the whole array up to its trailing NULs.
	if got := string(fm.AppendJSON(nil, args, d)); got != `["ls","-l","a b","stale"]` {
		t.Errorf("json: %s", got)
	}
}

func BenchmarkArgvJSON(b *testing.B) {
	_, args, d := argvRecord(b, true)
	fm := New()
	var dst []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst = fm.AppendJSON(dst[:0], args, d)
	}
}

func BenchmarkArgvText(b *testing.B) {
	_, args, d := argvRecord(b, true)
	fm := New()
	var dst []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst = fm.AppendText(dst[:0], args, d)
	}
}

// FuzzAppendArgv: the JSON form is always a list of strings holding exactly the arguments, and
// the text form never holds a newline (a table line stays one line).
func FuzzAppendArgv(f *testing.F) {
	for _, s := range []string{"", "ls\x00-l", "a b\x00'\x00\"", "x\ny", "\xff\x00z", "\x00", "a\x00\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var l []string
		js := AppendArgv(nil, b, true)
		if err := json.Unmarshal(js, &l); err != nil {
			t.Fatalf("%q gives invalid JSON %s: %v", b, js, err)
		}
		// Each argument ended by a NUL gives b, or b with the NUL the cut last one lacks.
		var back strings.Builder
		for _, a := range l {
			back.WriteString(a + "\x00")
		}
		if utf8.Valid(b) && back.String() != string(b) && back.String() != string(b)+"\x00" {
			t.Errorf("%q gives %q", b, l)
		}
		if txt := AppendArgv(nil, b, false); NeedsEscape(txt) {
			t.Errorf("%q gives text a terminal would not show as is: %q", b, txt)
		}
	})
}

// TestShellWordsBash: what a table shows for an argument is a word bash reads back as the
// argument's exact bytes, and shows nothing a terminal would act on.
func TestShellWordsBash(t *testing.T) {
	args := []string{
		"plain", "a b", "it's", `"q"`, `back\slash`, "$HOME", "tab\there", "nl\nx", "\x1b[31mred",
		"\x7fdel", "caf\u00e9", "c1\u009bcsi", "bad\xffutf8", "\xe2\x82", "\x01\x02a", "",
	}
	var words []string
	for _, a := range args {
		w := AppendShellWord(nil, []byte(a))
		if NeedsEscape(w) {
			t.Errorf("%q shows as %q, which a terminal would not show as is", a, w)
		}
		words = append(words, string(w))
	}
	// One printf per argument, NUL-terminated, so every byte (and empty ones) comes back.
	out, err := exec.Command("bash", "-c", "printf '%s\\0' "+strings.Join(words, " ")).Output()
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != len(args) {
		t.Fatalf("bash read %d words from %s, want %d", len(got), strings.Join(words, " "), len(args))
	}
	for i := range args {
		if got[i] != args[i] {
			t.Errorf("%q shown as %s reads back as %q", args[i], words[i], got[i])
		}
	}
}

func TestCheckAnnotations(t *testing.T) {
	_, args, _ := argvRecord(t, true)
	if err := CheckAnnotations(args); err != nil {
		t.Errorf("valid annotations: %v", err)
	}
	for _, c := range []struct {
		key, value, want string
	}{
		{ValueFormatAnnotation, "argvs", `value.format "argvs" is not known (known: argv)`},
		{ValueSizeFieldAnnotation, "nope", `value.size-field "nope" is not an integer field of data source exec`},
	} {
		_, args, _ := argvRecord(t, true)
		args.Annotations[c.key] = c.value
		err := CheckAnnotations(args)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "datasources.exec.fields.args.annotations") {
			t.Errorf("%s=%s: got %v, want %q", c.key, c.value, err, c.want)
		}
	}
	_, plain, _ := argvRecord(t, false)
	if err := CheckAnnotations(plain); err != nil {
		t.Errorf("no annotations: %v", err)
	}
}
