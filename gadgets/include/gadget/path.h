/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Absolute, canonical paths of a (dentry, vfsmount) pair, rebuilt from the kernel's dentries and
 * mounts, for programs where bpf_d_path is not allowed (tracepoints, raw tracepoints, lsm/ hooks
 * that are not sleepable).
 *
 * gadget_path_of() walks from the dentry up through d_parent and, at the root of a mount, to the
 * mount point in the parent mount (through struct mount, reached from the vfsmount by a CO-RE
 * field offset), one step per bpf_loop iteration, at most GADGET_PATH_MAX_COMPONENTS steps. It
 * stops at the task's root (a container's or a chroot's), so paths are as the task sees them, or
 * at the top of its mount namespace. Pseudo files stop at their own name ("/memfd:name").
 * Symbolic links never appear: the dentries are those of the file itself.
 *
 * Including this header declares the per-CPU array `gadget_path_scratch` (8 KiB per CPU), where
 * the path is built right to left. Needs bpf_loop (Linux 5.17).
 */
#ifndef GADGETRY_PATH_H
#define GADGETRY_PATH_H

#define GADGET_PATH_MAX_COMPONENTS 64
#define GADGET_PATH_SCRATCH_HALF 4096 /* power of two */
#define GADGET_PATH_NAME_MAX 255

struct gadget_path_scratch {
	char path[2 * GADGET_PATH_SCRATCH_HALF];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gadget_path_scratch);
} gadget_path_scratch SEC(".maps");

static __always_inline struct gadget_path_scratch *__gadget_path_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&gadget_path_scratch, &zero);
}

/* The state of one dentry walk, advanced one step per bpf_loop iteration. */
struct gadget_path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__u64 mnt_off;
	__u32 off;
	bool done;
	bool cut;
};

/*
 * __gadget_path_step prepends one path component to the scratch path, or crosses from the root of
 * a mount to its mount point in the parent mount (through struct mount, found with container_of
 * from the vfsmount). Returns 1 to stop the loop.
 */
static long __gadget_path_step(__u32 i, void *ctx)
{
	struct gadget_path_walk *w = ctx;
	struct gadget_path_scratch *s = __gadget_path_scratch();

	if (!s)
		return 1;
	/* Locals, not w->...: BPF_CORE_READ would relocate accesses to the walk struct too. */
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;

	if (dentry == w->root_dentry && vfsmnt == w->root_mnt) {
		w->done = true; /* the task's root (a container's or a chroot's) */
		return 1;
	}
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	if (dentry == mnt_root) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (!up || up == mnt) {
			w->done = true; /* top of this namespace's mount tree */
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->vfsmnt = (void *)up + w->mnt_off;
		return 0;
	}
	struct qstr name = BPF_CORE_READ(dentry, d_name);
	__u32 len = name.len;
	__u32 off = w->off;
	if (len > GADGET_PATH_NAME_MAX)
		len = GADGET_PATH_NAME_MAX;
	if (len + 1 > off || off >= GADGET_PATH_SCRATCH_HALF) {
		w->cut = true;
		return 1;
	}
	off -= len + 1;
	bpf_probe_read_kernel(&s->path[(off + 1) & (GADGET_PATH_SCRATCH_HALF - 1)], len, name.name);
	s->path[off & (GADGET_PATH_SCRATCH_HALF - 1)] = '/';
	w->off = off;
	if (dentry == parent || !parent) {
		w->done = true; /* a pseudo file (memfd, pipe) or a disconnected dentry */
		return 1;
	}
	w->dentry = parent;
	return 0;
}

/*
 * gadget_path_of writes the absolute path of (dentry, vfsmnt) into dst, a NUL-terminated string,
 * walking up to the task's root (root_dentry, root_mnt) or the top of the mount tree. Returns
 * true when the path was cut (deeper than GADGET_PATH_MAX_COMPONENTS, longer than the scratch
 * space, or longer than dst: then dst holds its end, or nothing). When len is not NULL, *len is
 * the length of the string written (without its NUL).
 */
static __always_inline bool gadget_path_of(struct dentry *dentry, struct vfsmount *vfsmnt,
					   struct dentry *root_dentry, struct vfsmount *root_mnt,
					   char *dst, __u32 dst_size, __u32 *len)
{
	struct gadget_path_scratch *s = __gadget_path_scratch();
	struct gadget_path_walk w = {
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.root_dentry = root_dentry,
		.root_mnt = root_mnt,
		.mnt_off = bpf_core_field_offset(struct mount, mnt),
		.off = GADGET_PATH_SCRATCH_HALF - 1,
	};
	long n;

	if (len)
		*len = 0;
	if (!s) {
		dst[0] = 0;
		return true;
	}
	w.mnt = (void *)vfsmnt - w.mnt_off;
	s->path[GADGET_PATH_SCRATCH_HALF - 1] = 0;
	bpf_loop(GADGET_PATH_MAX_COMPONENTS, __gadget_path_step, &w, 0);

	__u32 off = w.off;
	bool cut = w.cut || !w.done;
	if (off >= GADGET_PATH_SCRATCH_HALF) {
		dst[0] = 0;
		return true;
	}
	if (off == GADGET_PATH_SCRATCH_HALF - 1) {
		off--;
		s->path[off & (GADGET_PATH_SCRATCH_HALF - 1)] = '/';
	}
	if (GADGET_PATH_SCRATCH_HALF - 1 - off >= dst_size)
		cut = true;
	n = bpf_probe_read_kernel_str(dst, dst_size, &s->path[off & (GADGET_PATH_SCRATCH_HALF - 1)]);
	if (len && n > 0)
		*len = n - 1;
	return cut;
}

#endif /* GADGETRY_PATH_H */
