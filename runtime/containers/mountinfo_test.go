package containers

import (
	"strings"
	"testing"
)

const (
	miRoot     = "23 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
	miTmpfs    = "31 23 0:28 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755\n"
	miMemory   = "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:13 - cgroup cgroup rw,memory\n"
	miCPU      = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct\n"
	miSystemd  = "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:18 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n"
	miUnified  = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:19 - cgroup2 cgroup2 rw\n"
	miV2Only   = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	miOddSub   = "812 23 0:38 /kubepods/pod1 /var/lib/kubelet/a/very/long/mount/point/for/a/pod rw,relatime - cgroup2 cgroup2 rw\n"
	miBindFull = "813 23 0:38 / /host/cgroup rw,relatime - cgroup2 cgroup2 rw\n"
	miMemBind  = "814 23 0:32 /docker /var/run/docker-mem rw,relatime - cgroup cgroup rw,memory\n"
	// Inside a cgroup namespace, mounts made outside it show a root relative to the namespace
	// root; a fresh mount made inside it shows "/".
	miNsOuter = "41 31 0:38 /.. /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	miNsInner = "900 23 0:38 / /run/gadgetry/cgroup2 rw,relatime - cgroup2 cgroup2 rw\n"
	miNsMemOu = "35 31 0:32 /../.. /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
)

func TestFindCgroupMounts(t *testing.T) {
	type want struct {
		v2     string // mount point, "" for none
		memory string
		cpu    string
	}
	for _, tc := range []struct {
		name string
		mi   string
		want want
	}{
		{"v1 only", miRoot + miTmpfs + miCPU + miMemory + miSystemd,
			want{"", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu,cpuacct"}},
		{"v2 only", miRoot + miV2Only, want{"/sys/fs/cgroup", "", ""}},
		{"hybrid", miRoot + miTmpfs + miCPU + miMemory + miSystemd + miUnified,
			want{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu,cpuacct"}},
		{"hybrid reversed", miUnified + miSystemd + miMemory + miCPU + miTmpfs + miRoot,
			want{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu,cpuacct"}},
		{"shuffled, sub-cgroup bind with the longest path listed last",
			miMemBind + miSystemd + miRoot + miUnified + miCPU + miTmpfs + miMemory + miOddSub,
			want{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu,cpuacct"}},
		{"whole hierarchy bind-mounted elsewhere, listed first", miBindFull + miRoot + miV2Only,
			want{"/sys/fs/cgroup", "", ""}},
		{"only a sub-cgroup bind", miRoot + miOddSub, want{"/var/lib/kubelet/a/very/long/mount/point/for/a/pod", "", ""}},
		{"cgroup namespace, fresh mount inside", miRoot + miTmpfs + miNsOuter + miNsMemOu + miNsInner,
			want{"/run/gadgetry/cgroup2", "", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FindCgroupMounts(strings.NewReader(tc.mi))
			if err != nil {
				t.Fatal(err)
			}
			mp := func(m *CgroupMount) string {
				if m == nil {
					return ""
				}
				return m.MountPoint
			}
			g := want{mp(got.V2), mp(got.V1["memory"]), mp(got.V1["cpu"])}
			if g != tc.want {
				t.Fatalf("got %+v, want %+v", g, tc.want)
			}
			if tc.want.cpu != "" && mp(got.V1["cpuacct"]) != tc.want.cpu {
				t.Fatalf("cpuacct on %q", mp(got.V1["cpuacct"]))
			}
		})
	}
}

func TestFindCgroupMountsErrors(t *testing.T) {
	for name, mi := range map[string]string{
		"no cgroup mount":           miRoot + miTmpfs,
		"only outer-namespace ones": miRoot + miNsOuter + miNsMemOu,
	} {
		if _, err := FindCgroupMounts(strings.NewReader(mi)); err == nil || !strings.Contains(err.Error(), "no usable cgroup mount") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := FindCgroupMounts(strings.NewReader("garbage\n")); err == nil {
		t.Error("garbage accepted")
	}
}

func TestCgroupMountDir(t *testing.T) {
	root := &CgroupMount{Root: "/", MountPoint: "/sys/fs/cgroup/unified"}
	sub := &CgroupMount{Root: "/kubepods/pod1", MountPoint: "/x"}
	for _, tc := range []struct {
		m    *CgroupMount
		p    string
		want string
		ok   bool
	}{
		{root, "/a/b", "/sys/fs/cgroup/unified/a/b", true},
		{root, "/", "/sys/fs/cgroup/unified", true},
		{sub, "/kubepods/pod1/c", "/x/c", true},
		{sub, "/kubepods/pod1", "/x", true},
		{sub, "/kubepods/pod10/c", "", false},
		{sub, "/other", "", false},
		{&CgroupMount{Root: "/..", MountPoint: "/y"}, "/a", "", false},
	} {
		got, ok := tc.m.Dir(tc.p)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%+v.Dir(%q) = %q, %v", tc.m, tc.p, got, ok)
		}
	}
}

func TestUnescapeOctal(t *testing.T) {
	if got := unescapeOctal(`/mnt/with\040space\134x`); got != `/mnt/with space\x` {
		t.Fatal(got)
	}
}

func FuzzFindCgroupMounts(f *testing.F) {
	f.Add(miRoot + miUnified + miOddSub)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = FindCgroupMounts(strings.NewReader(s))
	})
}
