// SPDX-License-Identifier: GPL-2.0
/* kprobe and kretprobe on do_unlinkat, counting the calls of one process and keeping the
 * last return value (do_unlinkat returns an int: the upper half of the register is not part of it).
 * Used by TestKprobe. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u32 target_tgid = 0;

__u64 entries = 0;
__u64 returns = 0;
__s64 last_ret = 1;

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(unlinkat_entry)
{
	if (is_target())
		__sync_fetch_and_add(&entries, 1);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(unlinkat_return, int ret)
{
	if (is_target()) {
		last_ret = ret;
		__sync_fetch_and_add(&returns, 1);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
