/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File paths (the header name and API of Inspektor Gadget's gadgets), on <gadget/path.h>:
 *
 *   char *get_path_str(struct path *path)   the absolute path of path, as the current task
 *                                           sees it (from its root), in a per-CPU buffer that
 *                                           the next call overwrites; "" when unknown
 *   long read_full_path_of_open_file_fd(int fd, char *buf, u64 buf_len)
 *                                           the path of the current task's open file fd into
 *                                           buf: its length, or a negative errno
 */
#ifndef GADGETRY_FILESYSTEM_H
#define GADGETRY_FILESYSTEM_H

#include <gadget/types.h>
#include <gadget/path.h>

#ifndef GADGET_PATH_MAX
#define GADGET_PATH_MAX 4096
#endif

struct gadget_path_str {
	char buf[GADGET_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gadget_path_str);
} gadget_path_str_buf SEC(".maps");

/* __gadget_path_into writes the path of (a kernel) struct path into dst, seen from the
 * current task's root; returns its length, or -1. */
static __always_inline long __gadget_path_into(struct path *kpath, char *dst, __u32 size)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct path p = {}, root = {};
	__u32 len = 0;

	if (bpf_probe_read_kernel(&p, sizeof(p), kpath))
		return -1;
	root = BPF_CORE_READ(task, fs, root);
	gadget_path_of(p.dentry, p.mnt, root.dentry, root.mnt, dst, size, &len);
	return len;
}

static __always_inline char *get_path_str(struct path *path)
{
	__u32 zero = 0;
	struct gadget_path_str *s = bpf_map_lookup_elem(&gadget_path_str_buf, &zero);

	if (!s)
		return NULL;
	s->buf[0] = 0;
	__gadget_path_into(path, s->buf, sizeof(s->buf));
	return s->buf;
}

static __always_inline long read_full_path_of_open_file_fd(int fd, char *buf, __u64 buf_len)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= max)
		return -9; /* EBADF */
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return -9;
	return __gadget_path_into(&f->f_path, buf, buf_len);
}

#endif /* GADGETRY_FILESYSTEM_H */
