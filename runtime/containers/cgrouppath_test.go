package containers

import "testing"

func TestParseCgroupPath(t *testing.T) {
	const id = "3f2c5b8e9a1d4c7b6e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"
	const id2 = "aa2c5b8e9a1d4c7b6e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"
	for _, tc := range []struct {
		name, path string
		want       CgroupInfo
		ok         bool
	}{
		{"docker cgroupfs v1", "/docker/" + id, CgroupInfo{ID: id, Runtime: "docker"}, true},
		{"docker systemd", "/system.slice/docker-" + id + ".scope", CgroupInfo{ID: id, Runtime: "docker"}, true},
		{"containerd cgroupfs (nerdctl)", "/default/" + id, CgroupInfo{ID: id}, true},
		{"nerdctl systemd", "/system.slice/nerdctl-" + id + ".scope", CgroupInfo{ID: id, Runtime: "containerd"}, true},
		{"k8s containerd systemd", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7c1c5a1e_3b2d_4f0e_9d8c_1a2b3c4d5e6f.slice/cri-containerd-" + id + ".scope",
			CgroupInfo{ID: id, Runtime: "containerd", PodUID: "7c1c5a1e-3b2d-4f0e-9d8c-1a2b3c4d5e6f"}, true},
		{"k8s guaranteed systemd", "/kubepods.slice/kubepods-pod7c1c5a1e_3b2d_4f0e_9d8c_1a2b3c4d5e6f.slice/cri-containerd-" + id + ".scope",
			CgroupInfo{ID: id, Runtime: "containerd", PodUID: "7c1c5a1e-3b2d-4f0e-9d8c-1a2b3c4d5e6f"}, true},
		{"k8s cgroupfs", "/kubepods/besteffort/pod7c1c5a1e-3b2d-4f0e-9d8c-1a2b3c4d5e6f/" + id,
			CgroupInfo{ID: id, PodUID: "7c1c5a1e-3b2d-4f0e-9d8c-1a2b3c4d5e6f"}, true},
		{"cri-o systemd", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podabc_def.slice/crio-" + id + ".scope",
			CgroupInfo{ID: id, Runtime: "cri-o", PodUID: "abc-def"}, true},
		{"cri-o conmon", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podabc.slice/crio-conmon-" + id + ".scope", CgroupInfo{}, false},
		{"podman systemd root", "/machine.slice/libpod-" + id + ".scope", CgroupInfo{ID: id, Runtime: "podman"}, true},
		{"podman rootless split", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope/container", CgroupInfo{ID: id, Runtime: "podman"}, true},
		{"podman cgroupfs", "/libpod_parent/libpod-" + id, CgroupInfo{ID: id, Runtime: "podman"}, true},
		{"podman conmon", "/machine.slice/libpod-conmon-" + id + ".scope", CgroupInfo{}, false},
		{"systemd in container", "/system.slice/docker-" + id + ".scope/init.scope", CgroupInfo{ID: id, Runtime: "docker"}, true},
		{"nested docker", "/docker/" + id + "/docker/" + id2, CgroupInfo{ID: id2, Runtime: "docker"}, true},
		{"runc test parent", "/gadgetry-test-1a2b3c4d/" + id, CgroupInfo{ID: id}, true},
		{"pod-like name outside kubepods", "/pods/podx/" + id, CgroupInfo{ID: id}, true},
		{"host root", "/", CgroupInfo{}, false},
		{"empty", "", CgroupInfo{}, false},
		{"session", "/user.slice/user-0.slice/session-3.scope", CgroupInfo{}, false},
		{"service", "/system.slice/cron.service", CgroupInfo{}, false},
		{"upper-case hex is not an id", "/docker/" + "3F2C5B8E9A1D4C7B6E0F1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F", CgroupInfo{}, false},
		{"short id", "/docker/3f2c5b8e9a1d", CgroupInfo{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseCgroupPath(tc.path)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("ParseCgroupPath(%q) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParseCgroupPath(f *testing.F) {
	f.Add("/kubepods.slice/kubepods-pod1.slice/cri-containerd-x.scope")
	f.Add("/docker/0123")
	f.Fuzz(func(t *testing.T, p string) {
		info, ok := ParseCgroupPath(p)
		if ok && !isHexID(info.ID) {
			t.Fatalf("id %q", info.ID)
		}
	})
}
