/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing records to a tracer ring buffer declared with GADGET_TRACER_MAP. A record that cannot
 * be reserved is counted in `<map>_lost_samples`, which the runtime reports: loss is never silent.
 *
 * Records are submitted without waking user space (BPF_RB_NO_WAKEUP): the runtime drains the
 * buffer on a short timer and when it fills, which keeps the per-event cost near the floor.
 */
#ifndef GADGETRY_BUFFER_H
#define GADGETRY_BUFFER_H

#define gadget_reserve_buf(map, size) __gadget_reserve(&map, &map##_lost_samples, size)

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
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
}

static __always_inline void gadget_discard_buf(void *rec)
{
	bpf_ringbuf_discard(rec, BPF_RB_NO_WAKEUP);
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

#endif /* GADGETRY_BUFFER_H */
