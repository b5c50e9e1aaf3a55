package runtime

// DumpFallbackHooks makes the run's map dumps read and delete key by key instead of in
// batches, as on kernels without batch map operations.
func DumpFallbackHooks() Hooks {
	return Hooks{Name: "dump-fallback", Start: func(r *Run) error {
		r.dumpFallback = true
		return nil
	}}
}
