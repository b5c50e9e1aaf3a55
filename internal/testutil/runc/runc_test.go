package runc

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStartAndDelete(t *testing.T) {
	e := NewEnv(t)
	c := e.Start(Options{Name: "probe"})
	if c.Pid <= 0 || c.MntNS == 0 {
		t.Fatalf("pid %d mntns %d", c.Pid, c.MntNS)
	}
	self, _ := os.Readlink("/proc/self/ns/mnt")
	if parseNSLink(self) == c.MntNS {
		t.Fatal("container shares the test's mount namespace")
	}
	cg, err := os.ReadFile("/proc/" + strconv.Itoa(c.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cg), c.CgroupPath) {
		t.Fatalf("container cgroup %q lacks %s", cg, c.CgroupPath)
	}
	if st, err := c.State(); err != nil || st != "running" {
		t.Fatalf("state %q %v", st, err)
	}
	short := e.Start(Options{Name: "short", Args: []string{"/bin/true"}})
	if err := short.WaitStopped(time.Minute); err != nil {
		t.Fatal(err)
	}
	c.Delete()
	if _, err := os.Stat(e.Root + "/" + c.ID); !os.IsNotExist(err) {
		t.Fatalf("state dir left after delete: %v", err)
	}
}
