package wasmapi

// KallsymsSymbolExists reports whether the running kernel has symbol name (/proc/kallsyms).
func KallsymsSymbolExists(name string) bool {
	ok := kallsymsSymbolExists(strArg(name)) == 1
	keepStr(name)
	return ok
}

// ShouldDiscardMntnsID reports whether events of mount namespace mntns are filtered out by
// the run's container selection.
func ShouldDiscardMntnsID(mntns uint64) bool { return shouldDiscardMntnsID(mntns) == 1 }
