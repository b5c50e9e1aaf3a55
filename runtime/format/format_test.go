package format

import "testing"

func TestHelpers(t *testing.T) {
	if got := fileMode(0o100755); got != "-rwxr-xr-x" {
		t.Errorf("mode %s", got)
	}
	if got := fileMode(0o040700); got != "drwx------" {
		t.Errorf("mode %s", got)
	}
	if got := openFlags(0o2000101); got != "O_WRONLY|O_CREAT|O_CLOEXEC" {
		t.Errorf("flags %s", got)
	}
	if got := humanBytes(1536); got != "1.5 KiB" {
		t.Errorf("bytes %s", got)
	}
	if got := string(appendArray(nil, []byte{0xff, 0xff, 2, 0}, "int16", true)); got != "[-1,2]" {
		t.Errorf("array %s", got)
	}
	fm := New()
	if fm.users[0] != "root" || fm.groups[0] != "root" {
		t.Errorf("user/group 0: %q/%q", fm.users[0], fm.groups[0])
	}
}
