/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Field types the Gadgetry runtime recognizes by their BTF typedef name and formats for users
 * (see the compatibility contract, section 3).
 */
#ifndef GADGETRY_TYPES_H
#define GADGETRY_TYPES_H

typedef __u64 gadget_mntns_id;   /* mount namespace inode: container enrichment key */
typedef __u32 gadget_netns_id;   /* network namespace inode */
typedef __u64 gadget_timestamp;  /* bpf_ktime_get_boot_ns(): printed as wall-clock time */
typedef __u32 gadget_errno;      /* positive Linux errno: printed as ENOENT, ... */
typedef __u32 gadget_uid;        /* printed with the user name */
typedef __u32 gadget_gid;        /* printed with the group name */
typedef __u64 gadget_syscall;    /* syscall number: printed as its name */
typedef __u32 gadget_signal;     /* printed as SIGKILL, ... */
typedef __u32 gadget_file_mode;  /* printed as -rwxr-xr-x */
typedef __u32 gadget_file_flags; /* open flags: printed as O_RDONLY|O_CLOEXEC */
typedef __u64 gadget_bytes;      /* printed as 1.5 MiB */
typedef __u64 gadget_duration;   /* nanoseconds: printed as 1.5ms */
typedef __u32 gadget_pid;
typedef char gadget_comm;        /* use as gadget_comm comm[16] */

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

struct gadget_creds {
	gadget_uid uid;
	gadget_gid gid;
};

struct gadget_parent {
	gadget_comm comm[TASK_COMM_LEN];
	gadget_pid pid;
	gadget_pid tid;
};

struct gadget_process {
	gadget_comm comm[TASK_COMM_LEN];
	gadget_pid pid;
	gadget_pid tid;
	gadget_mntns_id mntns_id;
	struct gadget_creds creds;
	struct gadget_parent parent;
};

#endif /* GADGETRY_TYPES_H */
