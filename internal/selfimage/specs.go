package selfimage

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
)

// GadgetryPath is where Gadgetry's image holds the binary (its entrypoint).
const GadgetryPath = "/usr/bin/gadgetry"

// PausePath is where the pause image holds its program (its entrypoint).
const PausePath = "/pause"

// caBundles are the places a Debian/Alpine or Fedora build machine keeps its CA bundle.
var caBundles = []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"}

// CheckStatic fails unless the ELF file at path is statically linked (no interpreter): an
// image holds no C library, so a dynamic binary would not start in it.
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: not an ELF program: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; the image holds no C library: build it with CGO_ENABLED=0 (make build does)", path)
		}
	}
	return nil
}

// Gadgetry returns the spec of Gadgetry's own image: the static binary at GadgetryPath as the
// entrypoint, the build machine's CA bundle (the daemon pulls gadget images over HTTPS),
// /etc/passwd and /etc/group for root, and a writable /tmp and /var/lib/gadgetry (the image
// store of root).
func Gadgetry(binaryPath string) (Spec, error) {
	if err := CheckStatic(binaryPath); err != nil {
		return Spec{}, err
	}
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return Spec{}, err
	}
	files := []File{
		{Path: GadgetryPath, Mode: 0o755, Data: bin},
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/usr/bin/gadgetry\n")},
		{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\n")},
		{Path: "/root", Dir: true, Mode: 0o700},
		{Path: "/tmp", Dir: true, Mode: 0o777 | os.ModeSticky},
		{Path: "/var/lib/gadgetry", Dir: true, Mode: 0o755},
	}
	var ca []byte
	for _, p := range caBundles {
		if ca, err = os.ReadFile(p); err == nil {
			break
		}
	}
	if ca == nil {
		return Spec{}, errors.New("no CA bundle on this machine (" + caBundles[0] + "): install ca-certificates, the image needs it to pull over HTTPS")
	}
	files = append(files, File{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Data: ca})
	return Spec{
		Files:      files,
		Entrypoint: []string{GadgetryPath},
		Env:        []string{"PATH=/usr/bin:/bin", "HOME=/root"},
		Labels: map[string]string{
			"org.opencontainers.image.title":  "gadgetry",
			"org.opencontainers.image.source": "https://github.com/gadgetry/gadgetry",
		},
	}, nil
}

// Pause returns the spec of the pause image (a pod's sandbox process) around the static
// program at binaryPath (internal/k8stest/pause).
func Pause(binaryPath string) (Spec, error) {
	if err := CheckStatic(binaryPath); err != nil {
		return Spec{}, err
	}
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return Spec{}, err
	}
	return Spec{
		Files:      []File{{Path: PausePath, Mode: 0o755, Data: bin}},
		Entrypoint: []string{PausePath},
	}, nil
}
