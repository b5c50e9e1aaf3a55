// SPDX-License-Identifier: Apache-2.0
/*
 * A tracing gadget that includes only what Inspektor Gadget's trace_link, fdpass or trace_exec
 * include, and uses what those headers bring there: BPF_KPROBE and
 * gadget_get_current_mntns_id() through <gadget/filter.h>, core_fixes.bpf.h's readers,
 * GADGET_SNAPSHOTTER (GADGET_ITER's old name), gadget_should_discard_comm().
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/core_fixes.bpf.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

struct event {
	gadget_mntns_id mntns_id;
	gadget_comm comm[TASK_COMM_LEN];
	__u64 ctime;
	__u64 value;
};

GADGET_TRACER_MAP(events, 1024 * 256);
GADGET_TRACER(tracing, events, event);

struct file_entry {
	__u32 fd;
};

GADGET_SNAPSHOTTER(files, file_entry, igt_files);

SEC("kprobe/security_path_link")
int BPF_KPROBE(igt_link, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry)
{
	struct event *e;

	if (gadget_should_discard_data_current())
		return 0;
	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	e->mntns_id = gadget_get_current_mntns_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (gadget_should_discard_comm(e->comm)) {
		gadget_discard_buf(e);
		return 0;
	}
	e->ctime = gadget_get_ctime_nanosec_from_inode(BPF_CORE_READ(old_dentry, d_inode));
	e->value = renamedata_has_old_mnt_userns_field() + has_kfree() + has_kmem_cache_free() +
		   has_block_rq_completion();
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int igt_retrans(void *ctx)
{
	const struct sk_buff *skb = gadget_get_tcp_retransmit_skb_skbaddr(ctx);
	const struct sock *sk = gadget_get_tcp_retransmit_skb_skaddr(ctx);

	return skb && sk;
}

SEC("raw_tracepoint/block_bio_queue")
int igt_bio(struct bpf_raw_tracepoint_args *ctx)
{
	struct gendisk *disk = get_gendisk((void *)ctx->args[0]);

	if (!disk)
		bpf_core_unreachable();
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int igt_sys(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];

	return gadget_get_syscall_nr(regs) == 0 && gadget_get_syscall_arg(regs, 5) == 0;
}

SEC("iter/task_file")
int igt_files(struct bpf_iter__task_file *ctx)
{
	struct file_entry fe = { .fd = ctx->fd };

	if (ctx->file)
		bpf_seq_write(ctx->meta->seq, &fe, sizeof(fe));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
