/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing records to a tracer ring buffer declared with GADGET_TRACER_MAP. A record that cannot
 * be reserved is counted in `<map>_lost_samples`, which the runtime reports: loss is never silent.
 *
 * Wake-ups: a reader that waits on the ring (epoll, as Inspektor Gadget's ig does) must be woken;
 * Gadgetry's runtime does not wait (it drains the ring on a paced timer and when it fills), and
 * a wake-up costs it a queued kernel irq_work (a self-IPI, costly in a VM) per drain. So records
 * are submitted with the flags in `gadgetry_rb_submit_flags`, a `const volatile` the loader may
 * set: its default, 0, is the kernel's adaptive notification, which wakes a waiting reader once
 * per catch-up (what ig needs); Gadgetry's runtime sets it to BPF_RB_NO_WAKEUP at load
 * (docs/compatibility.md has the measured cost of each on trace_exec). Define
 * GADGET_RB_SUBMIT_FLAGS before including this header to fix the flags instead.
 */
#ifndef GADGETRY_BUFFER_H
#define GADGETRY_BUFFER_H

#ifndef GADGET_RB_SUBMIT_FLAGS
const volatile __u64 gadgetry_rb_submit_flags = 0;
#define GADGET_RB_SUBMIT_FLAGS gadgetry_rb_submit_flags
#endif

#define gadget_reserve_buf(map, size) __GADGET_RESERVE(map, size) /* by name or by address */

static __always_inline void *__gadget_reserve(void *rb, void *lost, __u64 size)
{
	void *rec = bpf_ringbuf_reserve(rb, size, 0);
	if (!rec) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(lost, &zero);
		if (n)
			*n += 1;
	}
	return rec;
}

static __always_inline void gadget_submit_buf(void *rec)
{
	bpf_ringbuf_submit(rec, GADGET_RB_SUBMIT_FLAGS);
}

static __always_inline void gadget_discard_buf(void *rec)
{
	bpf_ringbuf_discard(rec, GADGET_RB_SUBMIT_FLAGS);
}

/*
 * gadget_output_perf(ctx, map, rec, size): writes the record rec of size bytes to the perf event
 * array `map` declared with GADGET_TRACER_PERF_MAP, on the current CPU's buffer. A write that
 * fails (the buffer is full) is counted in `<map>_lost_samples`. Send the whole struct
 * (sizeof): the kernel pads samples to 8 bytes with unspecified bytes.
 */
#define gadget_output_perf(ctx, map, rec, size) \
	__gadget_output_perf(ctx, &map, &map##_lost_samples, rec, size)

static __always_inline long __gadget_output_perf(void *ctx, void *pa, void *lost, void *rec,
						 __u64 size)
{
	long err = bpf_perf_event_output(ctx, pa, BPF_F_CURRENT_CPU, rec, size);
	if (err) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(lost, &zero);
		if (n)
			*n += 1;
	}
	return err;
}

/*
 * Inspektor Gadget's buffer API, beside the one above. IG's gadgets pass the map's address:
 *
 *   e = gadget_reserve_buf(&events, sizeof(*e));
 *   gadget_submit_buf(ctx, &events, e, sizeof(*e));
 *   gadget_output_buf(ctx, &events, &rec, sizeof(rec));   reserve, copy and submit
 *
 * gadget_submit_buf takes one argument (Gadgetry's form) or four (IG's). gadget_reserve_buf
 * takes the map's address (IG's form) unless GADGETRY_BUF_BY_NAME is defined, which
 * <gadget.h> does: then it takes the map's name, as Gadgetry's gadgets write it. A failed
 * reservation or output is counted in `<map>_lost_samples` either way.
 * GADGET_NO_BUF_RESERVE (IG: no reserve helpers wanted) changes nothing here.
 */
#ifdef GADGETRY_BUF_BY_NAME
#define __GADGET_RESERVE(map, size) __gadget_reserve(&map, &map##_lost_samples, size)
#else
#define __GADGET_RESERVE(map, size) __gadget_reserve(map, map##_lost_samples, size)
#endif

#define __GADGET_SUBMIT_PICK(_1, _2, _3, _4, name, ...) name
#define gadget_submit_buf(...)                                                       \
	__GADGET_SUBMIT_PICK(__VA_ARGS__, __gadget_submit_buf4, __gadget_submit_bad,  \
			     __gadget_submit_bad, gadget_submit_buf)(__VA_ARGS__)

static __always_inline long __gadget_submit_buf4(void *ctx, void *map, void *rec, __u64 size)
{
	gadget_submit_buf(rec);
	return 0;
}

#define gadget_output_buf(ctx, map, rec, size) \
	__gadget_output_buf(ctx, map, map##_lost_samples, rec, size)

static __always_inline long __gadget_output_buf(void *ctx, void *rb, void *lost, void *rec,
						__u64 size)
{
	long err = bpf_ringbuf_output(rb, rec, size, GADGET_RB_SUBMIT_FLAGS);
	if (err) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(lost, &zero);
		if (n)
			*n += 1;
	}
	return 0;
}

#endif /* GADGETRY_BUFFER_H */
