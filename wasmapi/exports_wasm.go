//go:build wasm

package wasmapi

//go:wasmexport gadgetAPIVersion
func gadgetAPIVersion() uint64 { return 1 }

// gadgetInit announces the SDK's version to the host, runs the OnInit hooks, then asks the
// host to copy the fields the module looked up into its memory before each callback
// (fieldcopy.go).
//
//go:wasmexport gadgetInit
func gadgetInit() int32 {
	announce()
	if rc := runHooks("init", initHooks); rc != 0 {
		return rc
	}
	fcRegister()
	return 0
}

//go:wasmexport gadgetPreStart
func gadgetPreStart() int32 { return runHooks("prestart", preStartHooks) }

//go:wasmexport gadgetStart
func gadgetStart() int32 { return runHooks("start", startHooks) }

//go:wasmexport gadgetStop
func gadgetStop() int32 { return runHooks("stop", stopHooks) }

//go:wasmexport gadgetPostStop
func gadgetPostStop() int32 { return runHooks("poststop", postStopHooks) }

// dataSourceCallback returns 1 to ask the host to drop the event (a Gadgetry addition; a host
// that ignores results still works).
//
//go:wasmexport dataSourceCallback
func dataSourceCallback(cbID uint64, ds uint32, data uint32) uint32 {
	return dispatch(cbID, ds, data, false)
}

// gadgetryDataSourceBatch takes up to fcBatch records of ds at once (a Gadgetry extension,
// fieldcopy.go); a host without it never calls it.
//
//go:wasmexport gadgetryDataSourceBatch
func gadgetryDataSourceBatch(cbID uint64, ds uint32, n uint32) uint32 {
	return dispatchBatch(cbID, ds, n)
}
