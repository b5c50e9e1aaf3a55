package runtime

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// DefaultKernelBTFPath is where the kernel exposes its own BTF (CONFIG_DEBUG_INFO_BTF).
const DefaultKernelBTFPath = "/sys/kernel/btf/vmlinux"

// ErrNoKernelBTF is wrapped by the error of a run on a kernel without BTF whose image has no
// btfgen entry for that kernel: the gadget's CO-RE relocations have no types to resolve against.
var ErrNoKernelBTF = errors.New("no BTF for the running kernel")

// osReleasePaths are the os-release files, in the order os-release(5) says to read them.
var osReleasePaths = []string{"/etc/os-release", "/usr/lib/os-release"}

// maxBTFGenEntry bounds one BTF file read from a btfgen archive (minimized BTF is a few KiB;
// a whole vmlinux BTF is a few MiB).
const maxBTFGenEntry = 64 << 20

// kernelTypes returns the types a load of g resolves CO-RE relocations against: nil (the
// kernel's own BTF, through the Runtime's cache) when the kernel has BTF at the default path,
// the parsed file when Options.KernelBTFPath names another readable file, and otherwise the
// image's btfgen entry for the running kernel. The btfgen layer is only read in the last case.
func (rt *Runtime) kernelTypes(g *Gadget) (*btf.Spec, error) {
	path := rt.opts.KernelBTFPath
	if path == "" {
		path = DefaultKernelBTFPath
	}
	if f, err := os.Open(path); err == nil {
		f.Close()
		if path == DefaultKernelBTFPath {
			return nil, nil
		}
		return rt.kernelBTFAt(path)
	}
	host, err := readHostInfo()
	if err != nil {
		return nil, fmt.Errorf("gadget %s: the kernel has no BTF (%s is not readable) and identifying the system to pick its BTF from the image's btfgen layer failed: %w", g.Name, path, err)
	}
	if len(g.Image.BTFGen) == 0 {
		return nil, fmt.Errorf("gadget %s: %w (%s is not readable) and the image has no btfgen layer; looked for kernel %s on %s %s %s: run on a kernel built with CONFIG_DEBUG_INFO_BTF, or use an image whose btfgen layer covers this kernel (ig image build with btfhub-archive)",
			g.Name, ErrNoKernelBTF, path, host.Release, host.ID, host.VersionID, host.Arch)
	}
	spec, name, err := btfGenEntry(g.Image.BTFGen, host.entryNames())
	if err != nil {
		if errors.Is(err, ErrNoKernelBTF) {
			return nil, fmt.Errorf("gadget %s: %w (%s is not readable) and the image's btfgen layer has no entry for kernel %s on %s %s %s (looked for %s): run on a kernel built with CONFIG_DEBUG_INFO_BTF, or use an image whose btfgen layer covers this kernel",
				g.Name, ErrNoKernelBTF, path, host.Release, host.ID, host.VersionID, host.Arch, strings.Join(host.entryNames(), " or "))
		}
		return nil, fmt.Errorf("gadget %s: the kernel has no BTF (%s is not readable) and the image's btfgen layer is unusable: %w; rebuild the image (its btfgen layer must be a tar.gz of .btf files)", g.Name, path, err)
	}
	rt.log.Debug("kernel has no BTF: using the image's btfgen types", "gadget", g.Name, "entry", name)
	return spec, nil
}

// kernelBTFAt parses the kernel BTF at a non-default path once per Runtime.
func (rt *Runtime) kernelBTFAt(path string) (*btf.Spec, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.kernelSpec != nil {
		return rt.kernelSpec, nil
	}
	spec, err := btf.LoadSpec(path)
	if err != nil {
		return nil, fmt.Errorf("reading the kernel BTF at %s (runtime.Options.KernelBTFPath): %w; point it at a vmlinux BTF file or leave it empty for %s", path, err, DefaultKernelBTFPath)
	}
	rt.kernelSpec = spec
	return spec, nil
}

// hostInfo names the running system the way btfhub-archive (and so IG's btfgen layer) names
// its BTF files: <ID>/<VERSION_ID>/<machine>/<kernel release>.btf.
type hostInfo struct {
	ID, VersionID, Arch, Release string
}

// entryNames are the archive paths that may hold this system's BTF: the machine as uname
// reports it (what IG looks up), then btfhub-archive's name for it where they differ
// (aarch64 is "arm64" there).
func (h hostInfo) entryNames() []string {
	names := []string{fmt.Sprintf("%s/%s/%s/%s.btf", h.ID, h.VersionID, h.Arch, h.Release)}
	if h.Arch == "aarch64" {
		names = append(names, fmt.Sprintf("%s/%s/%s/%s.btf", h.ID, h.VersionID, "arm64", h.Release))
	}
	return names
}

func readHostInfo() (hostInfo, error) {
	var h hostInfo
	var data []byte
	var err error
	for _, p := range osReleasePaths {
		if data, err = os.ReadFile(p); err == nil {
			break
		}
	}
	if err != nil {
		return h, fmt.Errorf("reading os-release: %w", err)
	}
	h.ID, h.VersionID = parseOSRelease(data)
	if h.ID == "" || h.VersionID == "" {
		return h, fmt.Errorf("os-release has no ID or VERSION_ID (ID=%q VERSION_ID=%q)", h.ID, h.VersionID)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return h, fmt.Errorf("uname: %w", err)
	}
	h.Release, h.Arch = unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:])
	return h, nil
}

// parseOSRelease returns ID and VERSION_ID of an os-release file (values may be quoted).
func parseOSRelease(data []byte) (id, versionID string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			id = v
		case "VERSION_ID":
			versionID = v
		}
	}
	return id, versionID
}

// btfGenEntry finds the first of names in a btfgen tar.gz and parses it as BTF. An archive
// without any of them gives an error wrapping ErrNoKernelBTF; a malformed archive or entry
// another error.
func btfGenEntry(archive []byte, names []string) (*btf.Spec, string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return nil, "", fmt.Errorf("not gzip: %w", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	found := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("not a valid tar: %w", err)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if !want[name] || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if hdr.Size > maxBTFGenEntry {
			return nil, "", fmt.Errorf("entry %s is %d bytes, more than the %d allowed", name, hdr.Size, maxBTFGenEntry)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, "", fmt.Errorf("reading entry %s: %w", name, err)
		}
		found[name] = b
	}
	for _, n := range names {
		b, ok := found[n]
		if !ok {
			continue
		}
		spec, err := btf.LoadSpecFromReader(bytes.NewReader(b))
		if err != nil {
			return nil, "", fmt.Errorf("entry %s is not BTF: %w", n, err)
		}
		return spec, n, nil
	}
	return nil, "", ErrNoKernelBTF
}
