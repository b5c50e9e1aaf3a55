/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel structures that changed between releases, read whichever way the running kernel has
 * them (CO-RE; the header name Inspektor Gadget's gadgets include):
 *
 *   get_task_state(task)   task->__state (5.14+) or task->state
 *   get_disk(request)      the gendisk of a block request: rq->q->disk (5.17+) or rq->rq_disk
 */
#ifndef GADGETRY_CORE_FIXES_BPF_H
#define GADGETRY_CORE_FIXES_BPF_H

#include <gadget/types.h>

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

#endif /* GADGETRY_CORE_FIXES_BPF_H */
