// Package datasource is the event model every stage of a run shares: the eBPF decoder fills
// records, the WASM host reads, changes, adds and drops fields, enrichment adds container
// fields, and output formats them.
//
// A DataSource describes records: an ordered list of Fields. A Data is one record. Fields that
// come from the kernel are static: they sit at a fixed offset in the record's raw bytes, exactly
// as the eBPF program wrote them, so decoding costs nothing until a field is read. Fields added
// later (by the WASM guest, by enrichment) live in per-record slots.
//
// Field kinds have the numbers of the WASM ABI (bool 1 … bytes 14), so the host passes them
// through unchanged.
package datasource
