/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Common in-kernel filters. The runtime sets the `const volatile` globals before loading, so the
 * verifier sees constants and removes the checks that are off, and fills gadget_mntns_filter_map
 * with the mount namespaces of the selected containers.
 */
#ifndef GADGETRY_FILTER_H
#define GADGETRY_FILTER_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <gadget/types.h>
#include <gadget/macros.h>
#ifndef GADGET_TYPE_NETWORKING
/* gadget_get_current_mntns_id(), as IG's filter.h brings it (not to packet programs). */
#include <gadget/mntns.h>
#endif

/* A uid or gid no filter asks for: targ_uid and targ_gid unset. */
#define GADGET_INVALID_ID ((__u32)-1)

const volatile bool gadget_filter_by_mntns = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, gadget_mntns_id);
	__type(value, __u32);
} gadget_mntns_filter_map SEC(".maps");

const volatile __u32 targ_pid = 0;
const volatile __u32 targ_tid = 0;
const volatile __u32 targ_uid = (__u32)-1;
const volatile __u32 targ_gid = (__u32)-1;
const volatile char targ_comm[TASK_COMM_LEN] = {};

static __always_inline bool gadget_should_discard_mntns_id(gadget_mntns_id mntns_id)
{
	return gadget_filter_by_mntns &&
	       !bpf_map_lookup_elem(&gadget_mntns_filter_map, &mntns_id);
}

/* One filter at a time (Inspektor Gadget's API): true when the value is filtered out. */
static __always_inline bool gadget_should_discard_pid(__u32 pid)
{
	return targ_pid && targ_pid != pid;
}

static __always_inline bool gadget_should_discard_tid(__u32 tid)
{
	return targ_tid && targ_tid != tid;
}

static __always_inline bool gadget_should_discard_uid(__u32 uid)
{
	return targ_uid != GADGET_INVALID_ID && targ_uid != uid;
}

static __always_inline bool gadget_should_discard_gid(__u32 gid)
{
	return targ_gid != GADGET_INVALID_ID && targ_gid != gid;
}

/* comm, a task's TASK_COMM_LEN bytes, is not the one targ_comm names (when it names one). */
static __always_inline bool gadget_should_discard_comm(const char *comm)
{
	if (!targ_comm[0])
		return false;
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (targ_comm[i] != comm[i])
			return true;
		if (!comm[i])
			break;
	}
	return false;
}

/*
 * gadget_should_discard_data: true when the record of this task must not be emitted.
 * comm is compared only when targ_comm is set.
 */
static __always_inline bool gadget_should_discard_data(gadget_mntns_id mntns_id, __u32 pid,
						       __u32 tid, const char *comm, __u32 uid,
						       __u32 gid)
{
	return gadget_should_discard_mntns_id(mntns_id) || gadget_should_discard_pid(pid) ||
	       gadget_should_discard_tid(tid) || gadget_should_discard_uid(uid) ||
	       gadget_should_discard_gid(gid) || gadget_should_discard_comm(comm);
}

#ifndef GADGET_TYPE_NETWORKING
/*
 * gadget_should_discard_data_current: gadget_should_discard_data() for the current task, for
 * programs that run in the context of the task they report on (not packet programs, which
 * run in no task's: gadget_should_discard_data_by_skb() in <gadget/sockets-map.h>).
 */
static __always_inline bool gadget_should_discard_data_current(void)
{
	gadget_mntns_id mntns_id = gadget_get_current_mntns_id();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();
	char comm[TASK_COMM_LEN] = {};

	if (targ_comm[0])
		bpf_get_current_comm(comm, sizeof(comm));
	return gadget_should_discard_data(mntns_id, pid_tgid >> 32, (__u32)pid_tgid, comm,
					  (__u32)uid_gid, uid_gid >> 32);
}
#endif /* GADGET_TYPE_NETWORKING */

#ifdef GADGETRY_SOCKETS_MAP_H
#include <gadget/skb_filter.h>
#endif

#endif /* GADGETRY_FILTER_H */
