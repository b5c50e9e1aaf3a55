/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel structures that changed between releases, read whichever way the running kernel has
 * them (CO-RE; the header name Inspektor Gadget's gadgets include):
 *
 *   get_task_state(task)        task->__state (5.14+) or task->state
 *   get_disk(request)           the gendisk of a block request: rq->q->disk (5.17+) or rq->rq_disk
 *   get_gendisk(bio)            the gendisk of a bio: bio->bi_bdev->bd_disk (5.12+) or bio->bi_disk
 *   has_block_rq_completion()   the block_rq_complete tracepoint's record is struct
 *                               trace_event_raw_block_rq_completion (it is shared with
 *                               block_rq_error since 5.18), not ..._block_rq_complete
 *   renamedata_has_old_mnt_userns_field()
 *                               struct renamedata has old_mnt_userns (5.12 to 6.2): the VFS
 *                               functions then take a user namespace first
 *   has_kfree(), has_kmem_cache_free()
 *                               the kmem tracepoints' records are trace_event_raw_kfree and
 *                               trace_event_raw_kmem_cache_free (5.12+), not ..._kmem_free
 *   gadget_get_tcp_retransmit_skb_skbaddr(ctx), gadget_get_tcp_retransmit_skb_skaddr(ctx)
 *                               the skb and sock of a tcp:tcp_retransmit_skb tracepoint record,
 *                               whether its record is the shared trace_event_raw_tcp_event_sk_skb
 *                               or a trace_event_raw_tcp_retransmit_skb of its own (kernels
 *                               carrying the patch that adds an error field)
 *   gadget_get_ctime_nanosec_from_inode(inode)
 *                               an inode's change time in nanoseconds: i_ctime_sec and
 *                               i_ctime_nsec (6.11+, without the I_CTIME_QUERIED bit of 6.13's
 *                               multigrain timestamps), __i_ctime (6.6 to 6.10) or i_ctime;
 *                               0 for a time before 1970
 *   gadget_get_syscall_nr(regs), gadget_get_syscall_arg(regs, n)
 *                               a system call's number and its argument n, counted from 1 as
 *                               in IG (1 to 6; 0 otherwise), from the user registers the
 *                               syscall tracepoints and wrappers give; the number is -1 on an
 *                               architecture other than x86-64 and arm64
 *   bpf_core_unreachable()      a call the verifier refuses with libbpf's and cilium/ebpf's
 *                               "bad CO-RE relocation" mark: in a branch that a relocation
 *                               makes dead on the kernels it is written for, it fails the load
 *                               anywhere else
 */
#ifndef GADGETRY_CORE_FIXES_BPF_H
#define GADGETRY_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <gadget/types.h>

/* The helper number libbpf and cilium/ebpf give an instruction whose CO-RE relocation failed. */
static void (*bpf_core_unreachable)(void) = (void *)0xbad2310;

struct task_struct___gadget_old {
	long state;
} __attribute__((preserve_access_index));

struct task_struct___gadget_new {
	unsigned int __state;
} __attribute__((preserve_access_index));

static __always_inline __s64 get_task_state(void *task)
{
	struct task_struct___gadget_new *t = task;

	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___gadget_old *)task, state);
}

struct request_queue___gadget {
	struct gendisk *disk;
} __attribute__((preserve_access_index));

struct request___gadget_new {
	struct request_queue___gadget *q;
} __attribute__((preserve_access_index));

struct request___gadget_old {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *get_disk(void *request)
{
	struct request___gadget_old *old = request;

	if (bpf_core_field_exists(old->rq_disk))
		return BPF_CORE_READ(old, rq_disk);
	return BPF_CORE_READ((struct request___gadget_new *)request, q, disk);
}

struct bio___gadget_old {
	struct gendisk *bi_disk;
} __attribute__((preserve_access_index));

struct bio___gadget_new {
	struct block_device *bi_bdev;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *get_gendisk(void *bio)
{
	struct bio___gadget_old *old = bio;

	if (bpf_core_field_exists(old->bi_disk))
		return BPF_CORE_READ(old, bi_disk);
	return BPF_CORE_READ((struct bio___gadget_new *)bio, bi_bdev, bd_disk);
}

struct trace_event_raw_block_rq_completion___gadget {
	dev_t dev;
} __attribute__((preserve_access_index));

static __always_inline bool has_block_rq_completion(void)
{
	return bpf_core_type_exists(struct trace_event_raw_block_rq_completion___gadget);
}

struct renamedata___gadget {
	struct user_namespace *old_mnt_userns;
} __attribute__((preserve_access_index));

static __always_inline bool renamedata_has_old_mnt_userns_field(void)
{
	return bpf_core_field_exists(struct renamedata___gadget, old_mnt_userns);
}

struct trace_event_raw_kfree___gadget {
	const void *ptr;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_cache_free___gadget {
	const void *ptr;
} __attribute__((preserve_access_index));

static __always_inline bool has_kfree(void)
{
	return bpf_core_type_exists(struct trace_event_raw_kfree___gadget);
}

static __always_inline bool has_kmem_cache_free(void)
{
	return bpf_core_type_exists(struct trace_event_raw_kmem_cache_free___gadget);
}

/* tcp:tcp_retransmit_skb's record: shared with other tcp events, or its own. */
struct trace_event_raw_tcp_event_sk_skb___gadget {
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_retransmit_skb___gadget {
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

static __always_inline const struct sk_buff *gadget_get_tcp_retransmit_skb_skbaddr(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb___gadget))
		return BPF_CORE_READ((struct trace_event_raw_tcp_retransmit_skb___gadget *)ctx, skbaddr);
	return BPF_CORE_READ((struct trace_event_raw_tcp_event_sk_skb___gadget *)ctx, skbaddr);
}

static __always_inline const struct sock *gadget_get_tcp_retransmit_skb_skaddr(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb___gadget))
		return BPF_CORE_READ((struct trace_event_raw_tcp_retransmit_skb___gadget *)ctx, skaddr);
	return BPF_CORE_READ((struct trace_event_raw_tcp_event_sk_skb___gadget *)ctx, skaddr);
}

/* The bit of i_ctime_nsec that multigrain timestamps (6.13+) use as a flag. */
#define I_CTIME_QUERIED (1U << 31)

struct timespec64___gadget {
	__s64 tv_sec;
	long tv_nsec;
} __attribute__((preserve_access_index));

struct inode___gadget_split {
	__s64 i_ctime_sec;
	__u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

struct inode___gadget_hidden {
	struct timespec64___gadget __i_ctime;
} __attribute__((preserve_access_index));

struct inode___gadget_old {
	struct timespec64___gadget i_ctime;
} __attribute__((preserve_access_index));

static __always_inline __u64 gadget_get_ctime_nanosec_from_inode(struct inode *inode)
{
	struct inode___gadget_split *split = (void *)inode;
	struct inode___gadget_hidden *hidden = (void *)inode;
	struct inode___gadget_old *old = (void *)inode;
	__s64 sec;
	__u64 nsec;

	if (bpf_core_field_exists(split->i_ctime_sec)) {
		sec = BPF_CORE_READ(split, i_ctime_sec);
		nsec = BPF_CORE_READ(split, i_ctime_nsec) & ~I_CTIME_QUERIED;
	} else if (bpf_core_field_exists(hidden->__i_ctime)) {
		sec = BPF_CORE_READ(hidden, __i_ctime.tv_sec);
		nsec = BPF_CORE_READ(hidden, __i_ctime.tv_nsec);
	} else {
		sec = BPF_CORE_READ(old, i_ctime.tv_sec);
		nsec = BPF_CORE_READ(old, i_ctime.tv_nsec);
	}
	if (sec < 0)
		return 0;
	return (__u64)sec * 1000000000ULL + nsec;
}

#if defined(__TARGET_ARCH_arm64)
struct pt_regs___gadget_arm64 {
	__u64 orig_x0;
	__s32 syscallno;
} __attribute__((preserve_access_index));
#endif

static __always_inline long gadget_get_syscall_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	return BPF_CORE_READ((struct pt_regs___gadget_arm64 *)regs, syscallno);
#else
	return -1;
#endif
}

static __always_inline unsigned long gadget_get_syscall_arg(struct pt_regs *regs, unsigned int n)
{
	switch (n) {
	case 1:
		return PT_REGS_PARM1_CORE_SYSCALL(regs);
	case 2:
		return PT_REGS_PARM2_CORE_SYSCALL(regs);
	case 3:
		return PT_REGS_PARM3_CORE_SYSCALL(regs);
	case 4:
		return PT_REGS_PARM4_CORE_SYSCALL(regs);
	case 5:
		return PT_REGS_PARM5_CORE_SYSCALL(regs);
	case 6:
		return PT_REGS_PARM6_CORE_SYSCALL(regs);
	}
	return 0;
}

#endif /* GADGETRY_CORE_FIXES_BPF_H */
