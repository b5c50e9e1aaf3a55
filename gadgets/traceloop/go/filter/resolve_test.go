package filter

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fakeArch resolves names like a host would on a kernel whose syscalls are names, numbered in order.
func fakeArch(names ...string) Resolver {
	nrs := map[string]uint32{}
	for i, n := range names {
		nrs[n] = uint32(i)
	}
	return Resolver{
		Lookup: func(n string) (uint32, bool) { nr, ok := nrs[n]; return nr, ok },
		Names:  func() []string { return names },
	}
}

func x86() Resolver   { return fakeArch(archSyscalls["x86-64"]...) }
func arm64() Resolver { return fakeArch(archSyscalls["arm64"]...) }

func TestResolve(t *testing.T) {
	r := fakeArch("read", "write", "open", "openat")
	got, err := r.Resolve([]string{"openat", "write"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint32{3, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got, err = r.Resolve(nil)
	if err != nil || len(got) != 0 {
		t.Errorf("Resolve(nil) = %v, %v", got, err)
	}
}

func TestResolveEverySyscall(t *testing.T) {
	r := x86()
	got, err := r.Resolve(archSyscalls["x86-64"])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(archSyscalls["x86-64"]) {
		t.Errorf("resolved %d of %d", len(got), len(archSyscalls["x86-64"]))
	}
}

func TestResolveUnknown(t *testing.T) {
	for _, tc := range []struct {
		r       Resolver
		name    string
		want    []string // substrings of the error
		notWant []string
	}{
		{x86(), "opnat", []string{`"opnat"`, "unknown syscall", "did you mean openat"}, []string{"exists on"}},
		{x86(), "wirte", []string{"did you mean write"}, nil},
		{x86(), "getpdi", []string{"getpid"}, nil},
		{x86(), "a,b", []string{`"a,b"`, "unknown syscall"}, []string{"did you mean"}},
		{x86(), "zzzzzzzzzz", []string{`"zzzzzzzzzz"`}, []string{"did you mean", "exists on"}},
		// Exists on arm64 only, and close to real x86-64 names.
		{fakeArch("read", "write"), "renameat2", []string{"exists on arm64 and x86-64"}, nil},
		{arm64(), "open", []string{`"open"`, "(it exists on x86-64)", "did you mean openat"}, []string{"arm64)"}},
		{arm64(), "epoll_wait", []string{"(it exists on x86-64)", "epoll_pwait"}, nil},
		{arm64(), "fork", []string{"(it exists on x86-64)"}, nil},
	} {
		_, err := tc.r.Resolve([]string{"read", tc.name})
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !errors.Is(err, ErrUnknownSyscall) {
			t.Errorf("%s: error does not wrap ErrUnknownSyscall: %v", tc.name, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q should not contain %q", tc.name, err, w)
			}
		}
	}
}

func TestResolveReportsEveryUnknownName(t *testing.T) {
	_, err := x86().Resolve([]string{"opnat", "write", "wirte"})
	if err == nil || !strings.Contains(err.Error(), `"opnat"`) || !strings.Contains(err.Error(), `"wirte"`) {
		t.Fatalf("want both unknown names in the error, got %v", err)
	}
}

func TestSuggest(t *testing.T) {
	cands := archSyscalls["x86-64"]
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"opnat", []string{"openat"}},
		{"open", []string{"openat", "openat2", "mq_open"}},
		{"wrte", []string{"write"}},
		{"execv", []string{"execve"}},
		{"xyzzyplugh", nil},
	} {
		got := Suggest(tc.name, cands, 3)
		if len(tc.want) == 0 && len(got) != 0 {
			t.Errorf("Suggest(%q) = %q, want none", tc.name, got)
			continue
		}
		if len(tc.want) > 0 && (len(got) == 0 || got[0] != tc.want[0]) {
			t.Errorf("Suggest(%q) = %q, want %q first", tc.name, got, tc.want[0])
		}
		if len(got) > 3 {
			t.Errorf("Suggest(%q) returned %d names, max 3", tc.name, len(got))
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"write", "write", 0},
		{"wirte", "write", 1}, {"opnat", "openat", 1}, {"read", "write", 4},
		{"kitten", "sitting", 3}, {"ab", "ba", 1},
	} {
		if got := Distance(tc.a, tc.b); got != tc.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
		if got := Distance(tc.b, tc.a); got != tc.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.d)
		}
	}
}

func TestArchTablesSorted(t *testing.T) {
	for arch, list := range archSyscalls {
		for i := 1; i < len(list); i++ {
			if list[i-1] >= list[i] {
				t.Fatalf("%s table not sorted at %q", arch, list[i])
			}
		}
	}
}
