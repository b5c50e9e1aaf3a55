//go:build !wasm

package wasmapi

// Outside wasm every host function fails, so the package builds for docs and tools.

func gadgetLog(level uint32, msg uint64) {}

func gadgetShouldLog(level uint32) uint32 { return 0 }

func newDataSource(name uint64, typ uint32) uint32 { return 0 }

func getDataSource(name uint64) uint32 { return 0 }

func dataSourceSubscribe(ds uint32, typ uint32, prio uint32, cbID uint64) uint32 { return 1 }

func dataSourceGetField(ds uint32, name uint64) uint32 { return 0 }

func dataSourceAddField(ds uint32, name uint64, kind uint32) uint32 { return 0 }

func dataSourceNewPacketSingle(ds uint32) uint32 { return 0 }

func dataSourceNewPacketArray(ds uint32) uint32 { return 0 }

func dataSourceEmitAndRelease(ds uint32, packet uint32) uint32 { return 1 }

func dataSourceRelease(ds uint32, packet uint32) uint32 { return 1 }

func dataSourceUnreference(ds uint32) uint32 { return 1 }

func dataSourceIsReferenced(ds uint32) uint32 { return 2 }

func dataArrayNew(arr uint32) uint32 { return 0 }

func dataArrayAppend(arr uint32, data uint32) uint32 { return 1 }

func dataArrayRelease(arr uint32, data uint32) uint32 { return 1 }

func dataArrayLen(arr uint32) uint32 { return 0 }

func dataArrayGet(arr uint32, idx uint32) uint32 { return 0 }

func fieldGetScalar(field uint32, data uint32, kind uint32, errPtr uint32) uint64 { return 0 }

func fieldGetBuffer(field uint32, data uint32, kind uint32, dst uint64) int32 { return -1 }

func fieldSet(field uint32, data uint32, kind uint32, value uint64) uint32 { return 1 }

func fieldAddTag(field uint32, tag uint64) uint32 { return 1 }

func getParamValue(key uint64, dst uint64) uint32 { return 1 }

func setConfig(key uint64, value uint64, kind uint32) uint32 { return 1 }

func newMap(name uint64, typ uint32, keySize uint32, valueSize uint32, maxEntries uint32) uint32 {
	return 0
}

func getMap(name uint64) uint32 { return 0 }

func mapLookup(m uint32, key uint64, value uint64) uint32 { return 1 }

func mapUpdate(m uint32, key uint64, value uint64, flags uint64) uint32 { return 1 }

func mapDelete(m uint32, key uint64) uint32 { return 1 }

func mapRelease(m uint32) uint32 { return 1 }

func getSyscallID(name uint64) int32 { return -1 }

func getSyscallName(id uint32, dst uint64) uint32 { return 1 }

func getSyscallDeclaration(name uint64, dst uint64) uint32 { return 1 }

func newPerfReader(m uint32, size uint32, overwritable uint32) uint32 { return 0 }

func perfReaderPause(r uint32) uint32 { return 1 }

func perfReaderResume(r uint32) uint32 { return 1 }

func perfReaderClose(r uint32) uint32 { return 1 }

func perfReaderRead(r uint32, dst uint64) uint32 { return 1 }

func releaseHandle(h uint32) uint32 { return 1 }

func kallsymsSymbolExists(name uint64) uint32 { return 0 }

func shouldDiscardMntnsID(mntns uint64) uint32 { return 0 }
