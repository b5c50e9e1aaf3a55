// SPDX-License-Identifier: GPL-2.0
/* tracepoint syscalls/sys_exit_unlinkat sending one ring buffer record (the return value) per
 * unlinkat of one process. Runs on every kernel; used by TestTracepointRingBuf. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_exit_unlinkat")
int unlinkat_exit(struct trace_event_raw_sys_exit *ctx)
{
	__s64 *ret;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	ret = bpf_ringbuf_reserve(&events, sizeof(*ret), 0);
	if (!ret)
		return 0;
	*ret = ctx->ret;
	bpf_ringbuf_submit(ret, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
