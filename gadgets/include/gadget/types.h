/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Field types the Gadgetry runtime recognizes by their BTF typedef name and formats for users
 * (see the compatibility contract, section 3).
 */
#ifndef GADGETRY_TYPES_H
#define GADGETRY_TYPES_H

/* What the headers that include this one use, so each of them can be included alone; bool
 * where vmlinux.h (which has it) is not included, as gadgets written on <linux/...> headers
 * expect of IG's. */
#ifndef __VMLINUX_H__
#include <stdbool.h>
#endif
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

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

/* More names Inspektor Gadget's gadgets use (gadget-abi §3). */
typedef __u32 gadget_tid;          /* a thread id */
typedef __u32 gadget_ppid;         /* the parent's process id */
typedef __u32 gadget_ptid;         /* the parent's thread id */
typedef char gadget_pcomm;         /* the parent's command: gadget_pcomm pcomm[16] */
typedef __u32 gadget_kernel_stack; /* an id in the kernel stack map (kernel_stack_map.h) */
typedef __u32 gadget_counter__u32; /* metrics: a counter, a gauge, a histogram slot */
typedef __u64 gadget_counter__u64;
typedef __u32 gadget_gauge__u32;
typedef __u64 gadget_gauge__u64;
typedef __u32 gadget_histogram_slot__u32;
typedef __u64 gadget_histogram_slot__u64;

/*
 * The endpoint types (union gadget_ip_addr_t, struct gadget_l3endpoint_t and
 * gadget_l4endpoint_t) are in <gadget/endpoint.h>, which this header includes when <gadget.h>
 * did not include it (a gadget written with <gadget.h> includes <gadget/endpoint.h> itself):
 * declaring them changes the order of the BTF types clang writes, and the built-in gadgets'
 * objects stay byte for byte as they were.
 */
#ifndef GADGETRY_GADGET_H
#include <gadget/endpoint.h>
#endif

/*
 * A user stack (user_stack_map.h): the stack's id in the stack map ig_ustack and what names
 * the executable it belongs to. All zero when stacks are not collected.
 */
struct gadget_user_stack {
	__u64 exe_inode;   /* inode of the executable */
	__u32 exe_dev;     /* its device (the kernel's encoding) */
	__u32 pid;	   /* the process, as the root PID namespace sees it */
	__s32 stack_id;	   /* in ig_ustack; < 0 when there is none */
	__u32 pid_level1;  /* the process in the PID namespace of its container, if any */
};

#endif /* GADGETRY_TYPES_H */
