// SPDX-License-Identifier: GPL-2.0
/* fentry and fexit on do_unlinkat, counting the calls of one process and keeping the last
 * return value and the name the last call was given. Used by TestFentry. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u32 target_tgid = 0;

__u64 entries = 0;
__u64 returns = 0;
__s64 last_ret = 1;
char last_name[64] = {};

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(unlinkat_entry, int dfd, struct filename *name)
{
	if (!is_target())
		return 0;
	bpf_probe_read_kernel_str(last_name, sizeof(last_name), name->name);
	__sync_fetch_and_add(&entries, 1);
	return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(unlinkat_exit, int dfd, struct filename *name, int ret)
{
	if (!is_target())
		return 0;
	last_ret = ret;
	__sync_fetch_and_add(&returns, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
