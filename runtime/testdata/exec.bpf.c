/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal exec tracer for the runtime's tests: one record per successful execve. */
#include <gadget.h>

enum exec_kind {
	EXEC_KIND_PLAIN = 0,
	EXEC_KIND_SETUID = 1,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	gadget_uid uid;
	gadget_errno error_raw;
	enum exec_kind kind;
	bool root;
	__u16 ports[2];
	char filename[256];
	__u32 __secret;
};

GADGET_TRACER_MAP(gtest_events, 1024 * 256);
GADGET_TRACER(exec, gtest_events, event);

const volatile __u32 marker = 0;
GADGET_PARAM(marker);

const volatile bool with_filename = true;
GADGET_PARAM(with_filename);

SEC("tracepoint/sched/sched_process_exec")
int gtest_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct gadget_process p = {};
	struct event *e;
	unsigned int off;

	gadget_process_populate(&p);
	if (gadget_should_discard_data(p.mntns_id, p.pid, p.tid, p.comm, p.creds.uid,
				       p.creds.gid))
		return 0;

	e = gadget_reserve_buf(gtest_events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memcpy(&e->proc, &p, sizeof(p));
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->uid = p.creds.uid;
	e->error_raw = marker;
	e->kind = p.creds.uid == 0 ? EXEC_KIND_PLAIN : EXEC_KIND_SETUID;
	e->root = p.creds.uid == 0;
	e->ports[0] = 80;
	e->ports[1] = 443;
	e->__secret = 7;
	if (with_filename) {
		off = ctx->__data_loc_filename & 0xFFFF;
		bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + off);
	}
	gadget_submit_buf(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
