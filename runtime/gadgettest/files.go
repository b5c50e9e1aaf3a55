package gadgettest

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile writes content to path with mode, failing the test on error.
func WriteFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// CopyExecutable copies the file src to dst, executable (0755).
func CopyExecutable(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(t, dst, string(b), 0o755)
}

// RealPath is p with every symbolic link resolved (what the kernel's canonical paths show).
func RealPath(t testing.TB, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
