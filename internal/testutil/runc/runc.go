// Package runc starts real containers for tests: a busybox root filesystem in a temporary
// directory, an OCI config.json written here, and the runc binary with a private state root, so
// tests neither depend on nor disturb a container engine on the machine.
//
// Every container lives in its own cgroup under a parent unique to the test, and is deleted
// (runc delete -f, cgroup directories removed) when the test ends.
package runc

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BusyboxPath is where Debian's busybox-static installs the static busybox binary.
const BusyboxPath = "/bin/busybox"

// Require makes sure the machine can run containers: root, the runc binary and a static
// busybox. When it cannot, the test is skipped with the reason, or fails when CI=true.
func Require(t testing.TB) {
	t.Helper()
	missing := ""
	switch {
	case os.Geteuid() != 0:
		missing = "root (containers need it)"
	case lookPath("runc") == "":
		missing = "the runc binary (apt-get install runc)"
	default:
		if _, err := os.Stat(BusyboxPath); err != nil {
			missing = BusyboxPath + " (apt-get install busybox-static)"
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot run containers: missing %s", missing)
	}
	t.Skipf("cannot run containers: missing %s", missing)
}

func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

// Env is a private runc state root and cgroup parent shared by the containers of one test.
type Env struct {
	// Root is the runc state root (runc --root): <Root>/<id>/state.json.
	Root string
	// CgroupParent is the cgroup path every container's cgroup is created under,
	// e.g. "/gadgetry-test-1a2b3c4d".
	CgroupParent string

	t   testing.TB
	dir string
}

// NewEnv creates a state root and a unique cgroup parent, removed when the test ends.
func NewEnv(t testing.TB) *Env {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	e := &Env{
		Root:         filepath.Join(dir, "state"),
		CgroupParent: "/gadgetry-test-" + randHex(4),
		t:            t,
		dir:          dir,
	}
	if err := os.MkdirAll(e.Root, 0o700); err != nil {
		t.Fatalf("creating runc state root: %v", err)
	}
	t.Cleanup(e.removeCgroupParent)
	return e
}

// Options describe one container.
type Options struct {
	// Name is stored as the "nerdctl/name" annotation, the way nerdctl names containers, so
	// the container has a human name beside its hex id. Empty: no name annotation.
	Name string
	// Args is the process to run; default: sleep for an hour.
	Args []string
	// Hostname is the container's UTS hostname; default: the name, or "gadgetry-test".
	Hostname string
	// Annotations are added to config.json's annotations.
	Annotations map[string]string
	// Rootfs, when set, is the root filesystem: a directory the caller prepared (WriteRootfs
	// fills one), for instance the merged directory of an overlay, so that files written into
	// the container land in its upper layer. It is mounted writable. Default: a fresh
	// read-only busybox tree in the bundle.
	Rootfs string
}

// Container is a running (or finished) test container.
type Container struct {
	// ID is the runc container id: 64 hex digits, like the ids engines generate.
	ID string
	// Pid is the container's init process id, as seen from the host.
	Pid int
	// MntNS is the inode number of the init process's mount namespace, read right after start.
	MntNS uint64
	// CgroupPath is the cgroup path given to runc (linux.cgroupsPath).
	CgroupPath string
	// Bundle is the bundle directory holding config.json and rootfs.
	Bundle string

	env *Env
}

// Start creates and starts a container with runc run -d and returns it once its init process
// runs. The container is deleted when the test ends.
func (e *Env) Start(o Options) *Container {
	e.t.Helper()
	c, err := e.start(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *Env) start(o Options) (*Container, error) {
	id := randHex(32)
	c := &Container{
		ID:         id,
		CgroupPath: e.CgroupParent + "/" + id,
		Bundle:     filepath.Join(e.dir, "bundles", id),
		env:        e,
	}
	if o.Rootfs == "" {
		if err := WriteRootfs(filepath.Join(c.Bundle, "rootfs")); err != nil {
			return nil, fmt.Errorf("container %s: %w", o.Name, err)
		}
	} else if err := os.MkdirAll(c.Bundle, 0o755); err != nil {
		return nil, fmt.Errorf("container %s: creating its bundle: %w", o.Name, err)
	}
	cfg, err := json.MarshalIndent(spec(c, o), "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(c.Bundle, "config.json"), cfg, 0o644); err != nil {
		return nil, fmt.Errorf("writing config.json: %w", err)
	}
	pidFile := filepath.Join(c.Bundle, "init.pid")
	e.t.Cleanup(c.delete)
	run := []string{"run", "-d", "--bundle", c.Bundle, "--pid-file", pidFile}
	if rootIsRamfs() {
		// pivot_root cannot move away from an initramfs (the qemu kernels of make vmtest).
		run = append(run, "--no-pivot")
	}
	if out, err := e.runc(append(run, id)...); err != nil {
		return nil, fmt.Errorf("runc run %s (%s): %v: %s", id, o.Name, err, out)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, fmt.Errorf("reading runc's pid file: %w", err)
	}
	if c.Pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		return nil, fmt.Errorf("runc's pid file holds %q: %w", b, err)
	}
	// The process may already have exited for short-lived containers: MntNS stays 0 then.
	if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", c.Pid)); err == nil {
		c.MntNS = parseNSLink(l)
	}
	return c, nil
}

func (e *Env) runc(args ...string) ([]byte, error) {
	// Output goes to a file, not a pipe: with run -d the container's process inherits runc's
	// stdout and stderr, and a pipe would stay open (and Run would wait) until it exits.
	out, err := os.CreateTemp(e.dir, "runc-out-")
	if err != nil {
		return nil, fmt.Errorf("creating runc output file: %w", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.Command("runc", append([]string{"--root", e.Root}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	b, _ := os.ReadFile(out.Name())
	return bytes.TrimSpace(b), runErr
}

// Exec runs argv in the running container (runc exec) and returns its combined output.
func (c *Container) Exec(argv ...string) ([]byte, error) {
	return c.env.runc(append([]string{"exec", c.ID}, argv...)...)
}

// State returns runc's status of the container: "created", "running", "stopped".
func (c *Container) State() (string, error) {
	out, err := c.env.runc("state", c.ID)
	if err != nil {
		return "", fmt.Errorf("runc state %s: %v: %s", c.ID, err, out)
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return "", fmt.Errorf("runc state %s: %w", c.ID, err)
	}
	return st.Status, nil
}

// WaitStopped waits until the container's process has exited (runc reports "stopped").
func (c *Container) WaitStopped(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := c.State()
		if err != nil {
			return err
		}
		if st == "stopped" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s still %s after %v", c.ID, st, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Delete kills and deletes the container now (runc delete -f). Later calls do nothing.
func (c *Container) Delete() { c.delete() }

func (c *Container) delete() {
	if c.env == nil {
		return
	}
	e := c.env
	c.env = nil
	if out, err := e.runc("delete", "-f", c.ID); err != nil && !bytes.Contains(out, []byte("does not exist")) {
		e.t.Logf("runc delete -f %s: %v: %s", c.ID, err, out)
	}
	_ = os.RemoveAll(c.Bundle)
	// runc delete removes the container's own cgroups; the parent goes in removeCgroupParent.
}

// removeCgroupParent removes the test's cgroup parent from every hierarchy it was created in.
func (e *Env) removeCgroupParent() {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", strings.TrimPrefix(e.CgroupParent, "/")))
	if d := filepath.Join("/sys/fs/cgroup", strings.TrimPrefix(e.CgroupParent, "/")); exists(d) {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		// Leftover leaf cgroups (a container runc could not delete) go first.
		subs, _ := os.ReadDir(d)
		for _, s := range subs {
			if s.IsDir() {
				_ = os.Remove(filepath.Join(d, s.Name()))
			}
		}
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			e.t.Logf("removing cgroup %s: %v", d, err)
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

var busyboxApplets = []string{"sh", "sleep", "true", "false", "cat", "ls", "echo", "hostname", "id", "ps", "env"}

// rootIsRamfs reports whether / is an initramfs (ramfs, or the tmpfs the kernel may unpack it
// into when it is the only root).
func rootIsRamfs() bool {
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil {
		return false
	}
	return st.Type == unix.RAMFS_MAGIC || st.Type == unix.TMPFS_MAGIC
}

// WriteRootfs makes a minimal root filesystem in root: busybox and a few applet symlinks, plus
// the directories runc mounts onto.
func WriteRootfs(root string) error {
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return fmt.Errorf("creating rootfs: %w", err)
		}
	}
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return fmt.Errorf("reading busybox: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), bb, 0o755); err != nil {
		return fmt.Errorf("writing busybox into the rootfs: %w", err)
	}
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			return fmt.Errorf("creating rootfs: %w", err)
		}
	}
	return nil
}

// spec returns a minimal OCI runtime config: read-only rootfs, runc's default namespaces
// (pid, ipc, uts, mount, network, cgroup), no terminal.
func spec(c *Container, o Options) map[string]any {
	rootPath, readonly := "rootfs", true
	if o.Rootfs != "" {
		rootPath, readonly = o.Rootfs, false
	}
	args := o.Args
	if len(args) == 0 {
		args = []string{"/bin/sleep", "3600"}
	}
	host := o.Hostname
	if host == "" {
		host = o.Name
	}
	if host == "" {
		host = "gadgetry-test"
	}
	ann := map[string]string{}
	if o.Name != "" {
		ann["nerdctl/name"] = o.Name
	}
	for k, v := range o.Annotations {
		ann[k] = v
	}
	caps := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"}
	return map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"terminal": false,
			"user":     map[string]any{"uid": 0, "gid": 0},
			"args":     args,
			"env":      []string{"PATH=/bin", "HOME=/"},
			"cwd":      "/",
			"capabilities": map[string]any{
				"bounding": caps, "effective": caps, "permitted": caps,
			},
			"noNewPrivileges": true,
		},
		"root":        map[string]any{"path": rootPath, "readonly": readonly},
		"hostname":    host,
		"annotations": ann,
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc"},
			{"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
				"options": []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
				"options": []string{"nosuid", "nodev", "size=1m"}},
			{"destination": "/sys", "type": "sysfs", "source": "sysfs",
				"options": []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		"linux": map[string]any{
			"cgroupsPath": c.CgroupPath,
			"namespaces": []map[string]string{
				{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
				{"type": "uts"}, {"type": "mount"}, {"type": "cgroup"},
			},
			"maskedPaths":   []string{"/proc/kcore", "/proc/keys", "/sys/firmware"},
			"readonlyPaths": []string{"/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// parseNSLink turns "mnt:[4026531840]" into 4026531840.
func parseNSLink(l string) uint64 {
	i, j := strings.IndexByte(l, '['), strings.IndexByte(l, ']')
	if i < 0 || j < i {
		return 0
	}
	v, _ := strconv.ParseUint(l[i+1:j], 10, 64)
	return v
}
