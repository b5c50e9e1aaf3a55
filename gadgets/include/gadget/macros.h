/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Marker globals that tell the Gadgetry runtime what an eBPF object offers. The runtime reads
 * their names from the object's BTF; the globals themselves are never used. Names are split on
 * "___" (three underscores). See docs/image-format.md and the compatibility contract.
 */
#ifndef GADGETRY_MACROS_H
#define GADGETRY_MACROS_H

#define __GADGET_UNUSED __attribute__((unused))

/*
 * GADGET_TRACER(ds, map, type): data source `ds` streams records of `struct type` read from the
 * ring buffer (GADGET_TRACER_MAP) or perf event array (GADGET_TRACER_PERF_MAP) `map`. The second global keeps `struct type` in BTF even when the program only
 * uses it through a reserved pointer.
 */
#define GADGET_TRACER(ds, map, type)                                         \
	const void *gadget_tracer_##ds##___##map##___##type __GADGET_UNUSED; \
	const struct type *__gadget_tracer_type_##ds __GADGET_UNUSED

/* GADGET_PARAM(var): the `const volatile` global `var` becomes a user parameter. */
#define GADGET_PARAM(var) const void *gadget_param_##var __GADGET_UNUSED

/* GADGET_MAPITER(ds, map): the hash map `map` is dumped periodically as array data source `ds`. */
#define GADGET_MAPITER(ds, map) const void *gadget_mapiter_##ds##___##map __GADGET_UNUSED

/*
 * GADGET_ITER(ds, type, prog...): the BPF iterator program `prog` (SEC("iter/<target>")) writes
 * records of `struct type` with bpf_seq_write(); once it is attached, the runtime reads the
 * iterator to its end and emits every record as one array of data source `ds`. Up to three
 * programs may be named (GADGET_ITER(sockets, entry, tcp_iter, udp_iter)): each one's records
 * are an array of `ds`. The second global keeps `struct type` in BTF when the program only
 * uses it on the stack.
 */
#define __GADGET_NARGS3(_1, _2, _3, n, ...) n
#define __GADGET_ITER_MARKER_1(ds, type, p1) gadget_iter_##ds##___##type##___##p1
#define __GADGET_ITER_MARKER_2(ds, type, p1, p2) gadget_iter_##ds##___##type##___##p1##___##p2
#define __GADGET_ITER_MARKER_3(ds, type, p1, p2, p3) \
	gadget_iter_##ds##___##type##___##p1##___##p2##___##p3
#define __GADGET_ITER_MARKER_N(n) __GADGET_ITER_MARKER_##n
#define __GADGET_ITER_MARKER(n) __GADGET_ITER_MARKER_N(n)
#define GADGET_ITER(ds, type, ...)                                                        \
	const void *__GADGET_ITER_MARKER(__GADGET_NARGS3(__VA_ARGS__, 3, 2, 1, 0))(ds, type, \
									     __VA_ARGS__) \
		__GADGET_UNUSED;                                                          \
	const struct type *__gadget_iter_type_##ds __GADGET_UNUSED

/* GADGET_SNAPSHOTTER(ds, type, prog...): GADGET_ITER's older name, which IG keeps (deprecated). */
#define GADGET_SNAPSHOTTER(ds, type, ...) GADGET_ITER(ds, type, __VA_ARGS__)

/* The per-CPU lost-record counter and the marker every tracer buffer declares. */
#define __GADGET_TRACER_LOST_SAMPLES(map)                             \
	struct {                                                      \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);              \
		__uint(max_entries, 1);                               \
		__type(key, __u32);                                   \
		__type(value, __u64);                                 \
	} map##_lost_samples SEC(".maps");                            \
	const void *gadget_map_tracer_##map __GADGET_UNUSED

/*
 * GADGET_TRACER_MAP(map, bytes): a ring buffer used as a tracer buffer, with the per-CPU counter
 * `map_lost_samples` of records that could not be reserved. Use gadget_reserve_buf() and
 * gadget_submit_buf() from buffer.h to write to it.
 */
#define GADGET_TRACER_MAP(map, bytes)                                 \
	struct {                                                      \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                   \
		__uint(max_entries, bytes);                           \
	} map SEC(".maps");                                           \
	__GADGET_TRACER_LOST_SAMPLES(map)

/*
 * GADGET_TRACER_PERF_MAP(map): a perf event array (one buffer per CPU, sized by the runtime)
 * used as a tracer buffer, for kernels before 5.8 that lack ring buffers; GADGET_TRACER(ds,
 * map, type) reads it like a ring buffer. Also declares the per-CPU counter `map_lost_samples`.
 * Write records with gadget_output_perf() from buffer.h, which counts the writes that fail.
 * Prefer GADGET_TRACER_MAP where the kernel has ring buffers (see docs/authoring.md).
 */
#define GADGET_TRACER_PERF_MAP(map)                                   \
	struct {                                                      \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);          \
		__uint(key_size, sizeof(__u32));                      \
		__uint(value_size, sizeof(__u32));                    \
	} map SEC(".maps");                                           \
	__GADGET_TRACER_LOST_SAMPLES(map)

/*
 * GADGET_ITER_TARGET_MAP(prog, map): the iterator program `prog`, SEC("iter/bpf_map_elem"),
 * walks the elements of `map`, a map of this object; the runtime attaches the program to it
 * (a map-element iterator must name its map when it is attached). `prog` is also named in a
 * GADGET_ITER, which says where its records go.
 */
#define GADGET_ITER_TARGET_MAP(prog, map) \
	const void *gadget_mapelem_iter_target_##prog##___##map __GADGET_UNUSED

#endif /* GADGETRY_MACROS_H */
