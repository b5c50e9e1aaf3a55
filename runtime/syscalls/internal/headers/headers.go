// Package headers reads syscall numbers and errno values from the Linux UAPI headers that
// Debian's linux-libc-dev (amd64) and linux-libc-dev-arm64-cross (arm64) install, by running
// the C preprocessor (clang) over them and evaluating the resulting macros. The generator and
// the tests that check the generated tables share it.
package headers

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Source says where one architecture's headers live and how to preprocess them.
type Source struct {
	// Arch is the Go name of the architecture: "amd64" or "arm64".
	Arch string
	// Target is the clang target triple.
	Target string
	// Include lists the system include directories, most specific first.
	Include []string
	// Probe is a file whose presence means the headers are installed.
	Probe string
	// Package is the Debian package that ships the headers.
	Package string
	// Overlay lists include directories searched before Include: newer kernel headers whose
	// syscall numbers override and extend the installed ones (see WithUAPI).
	Overlay []string
}

// WithUAPI returns s reading the syscall table from newer kernel headers first: root is what
// scripts/fetch-uapi.sh prints, the unpacked linux-headers-<ver>-common and -amd64 packages.
// amd64 takes the generated <asm/unistd_64.h> of the -amd64 package; arm64 takes the generic
// table <asm-generic/unistd.h> of the -common package, configured by the installed arm64
// <asm/unistd.h>.
func (s Source) WithUAPI(root string) (Source, error) {
	var pattern string
	switch s.Arch {
	case "amd64":
		pattern = "usr/src/linux-headers-*-amd64/arch/x86/include/generated/uapi"
	case "arm64":
		pattern = "usr/src/linux-headers-*-common/include/uapi"
	default:
		return s, fmt.Errorf("no newer headers for %s", s.Arch)
	}
	dirs, _ := filepath.Glob(filepath.Join(root, pattern))
	if len(dirs) != 1 {
		return s, fmt.Errorf("%s: want one %s under %s, found %d (run scripts/fetch-uapi.sh)", s.Arch, pattern, root, len(dirs))
	}
	s.Overlay = dirs
	return s, nil
}

// Sources are the header locations on a Debian machine.
var Sources = []Source{
	{
		Arch: "amd64", Target: "x86_64-linux-gnu",
		Include: []string{"/usr/include/x86_64-linux-gnu", "/usr/include"},
		Probe:   "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
		Package: "linux-libc-dev",
	},
	{
		Arch: "arm64", Target: "aarch64-linux-gnu",
		Include: []string{"/usr/aarch64-linux-gnu/include"},
		Probe:   "/usr/aarch64-linux-gnu/include/asm/unistd.h",
		Package: "linux-libc-dev-arm64-cross",
	},
}

// Installed reports whether the headers of s are present.
func (s Source) Installed() bool {
	_, err := os.Stat(s.Probe)
	return err == nil
}

// Clang returns the clang binary to use: $CLANG, clang-19 or clang.
func Clang() (string, error) {
	if c := os.Getenv("CLANG"); c != "" {
		return c, nil
	}
	for _, c := range []string{"clang-19", "clang"} {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no clang found in PATH (install clang-19 or set $CLANG)")
}

func (s Source) macros(include string) (map[string]string, error) {
	if !s.Installed() {
		return nil, fmt.Errorf("%s headers not installed (%s missing): apt-get install %s", s.Arch, s.Probe, s.Package)
	}
	clang, err := Clang()
	if err != nil {
		return nil, err
	}
	args := []string{"-target", s.Target, "-E", "-dM", "-nostdinc"}
	for _, d := range append(append([]string{}, s.Overlay...), s.Include...) {
		args = append(args, "-isystem", d)
	}
	args = append(args, "-x", "c", "-")
	cmd := exec.Command(clang, args...)
	cmd.Stdin = strings.NewReader("#include <" + include + ">\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("preprocessing <%s> for %s: %v: %s", include, s.Arch, err, stderr.String())
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, "#define ")
		if !ok {
			continue
		}
		name, val, _ := strings.Cut(rest, " ")
		if strings.Contains(name, "(") {
			continue // function-like macro
		}
		m[name] = strings.TrimSpace(val)
	}
	return m, nil
}

// eval evaluates a macro body made of integers, macro names, '+', '-' and parentheses.
func eval(m map[string]string, expr string, depth int) (int, error) {
	if depth > 16 {
		return 0, fmt.Errorf("macro %q nests too deep", expr)
	}
	toks := tokenize(expr)
	pos := 0
	var term func() (int, error)
	var sum func() (int, error)
	term = func() (int, error) {
		if pos >= len(toks) {
			return 0, fmt.Errorf("unexpected end of %q", expr)
		}
		t := toks[pos]
		pos++
		switch {
		case t == "(":
			v, err := sum()
			if err != nil {
				return 0, err
			}
			if pos >= len(toks) || toks[pos] != ")" {
				return 0, fmt.Errorf("missing ')' in %q", expr)
			}
			pos++
			return v, nil
		case t[0] >= '0' && t[0] <= '9':
			v, err := strconv.ParseInt(strings.TrimRight(t, "uUlL"), 0, 64)
			return int(v), err
		default:
			body, ok := m[t]
			if !ok {
				return 0, fmt.Errorf("undefined macro %q in %q", t, expr)
			}
			return eval(m, body, depth+1)
		}
	}
	sum = func() (int, error) {
		v, err := term()
		if err != nil {
			return 0, err
		}
		for pos < len(toks) && (toks[pos] == "+" || toks[pos] == "-") {
			op := toks[pos]
			pos++
			w, err := term()
			if err != nil {
				return 0, err
			}
			if op == "+" {
				v += w
			} else {
				v -= w
			}
		}
		return v, nil
	}
	v, err := sum()
	if err == nil && pos != len(toks) {
		err = fmt.Errorf("trailing tokens in %q", expr)
	}
	return v, err
}

func tokenize(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == '+' || c == '-':
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t()+-", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

// Syscalls returns the syscall numbers of s's architecture by name, from <asm/unistd.h>.
func (s Source) Syscalls() (map[string]int, error) {
	m, err := s.macros("asm/unistd.h")
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for name, body := range m {
		sc, ok := strings.CutPrefix(name, "__NR_")
		if !ok || sc == "syscalls" || sc == "arch_specific_syscall" {
			continue
		}
		nr, err := eval(m, body, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", s.Arch, name, err)
		}
		out[sc] = nr
	}
	if len(out) < 200 {
		return nil, fmt.Errorf("%s: only %d syscalls found in <asm/unistd.h>", s.Arch, len(out))
	}
	return out, nil
}

// Errno is one errno value with its canonical name.
type Errno struct {
	Name  string
	Value int
}

// Errnos returns the errno values of <asm/errno.h>, sorted by value; aliases (EWOULDBLOCK,
// EDEADLOCK) are left out so each value has one name.
func (s Source) Errnos() ([]Errno, error) {
	m, err := s.macros("asm/errno.h")
	if err != nil {
		return nil, err
	}
	var out []Errno
	for name, body := range m {
		if len(name) < 2 || name[0] != 'E' || body == "" || body[0] < '0' || body[0] > '9' {
			continue // not an errno, or an alias of another name
		}
		v, err := strconv.Atoi(body)
		if err != nil {
			continue
		}
		out = append(out, Errno{name, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out, nil
}
