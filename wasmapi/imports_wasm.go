//go:build wasm

package wasmapi

// The host functions of module "ig" (ABI version 1). Strings and buffers are packed as
// len<<32 | ptr; handles are u32 (0 = invalid); "err" results are 0 ok, 1 error.

//go:wasmimport ig gadgetLog
func gadgetLog(level uint32, msg uint64)

//go:wasmimport ig gadgetShouldLog
func gadgetShouldLog(level uint32) uint32

//go:wasmimport ig newDataSource
func newDataSource(name uint64, typ uint32) uint32

//go:wasmimport ig getDataSource
func getDataSource(name uint64) uint32

//go:wasmimport ig dataSourceSubscribe
func dataSourceSubscribe(ds uint32, typ uint32, prio uint32, cbID uint64) uint32

//go:wasmimport ig dataSourceGetField
func dataSourceGetField(ds uint32, name uint64) uint32

//go:wasmimport ig dataSourceAddField
func dataSourceAddField(ds uint32, name uint64, kind uint32) uint32

//go:wasmimport ig dataSourceNewPacketSingle
func dataSourceNewPacketSingle(ds uint32) uint32

//go:wasmimport ig dataSourceNewPacketArray
func dataSourceNewPacketArray(ds uint32) uint32

//go:wasmimport ig dataSourceEmitAndRelease
func dataSourceEmitAndRelease(ds uint32, packet uint32) uint32

//go:wasmimport ig dataSourceRelease
func dataSourceRelease(ds uint32, packet uint32) uint32

//go:wasmimport ig dataSourceUnreference
func dataSourceUnreference(ds uint32) uint32

//go:wasmimport ig dataSourceIsReferenced
func dataSourceIsReferenced(ds uint32) uint32

//go:wasmimport ig dataArrayNew
func dataArrayNew(arr uint32) uint32

//go:wasmimport ig dataArrayAppend
func dataArrayAppend(arr uint32, data uint32) uint32

//go:wasmimport ig dataArrayRelease
func dataArrayRelease(arr uint32, data uint32) uint32

//go:wasmimport ig dataArrayLen
func dataArrayLen(arr uint32) uint32

//go:wasmimport ig dataArrayGet
func dataArrayGet(arr uint32, idx uint32) uint32

//go:wasmimport ig fieldGetScalar
func fieldGetScalar(field uint32, data uint32, kind uint32, errPtr uint32) uint64

//go:wasmimport ig fieldGetBuffer
func fieldGetBuffer(field uint32, data uint32, kind uint32, dst uint64) int32

//go:wasmimport ig fieldSet
func fieldSet(field uint32, data uint32, kind uint32, value uint64) uint32

//go:wasmimport ig fieldAddTag
func fieldAddTag(field uint32, tag uint64) uint32

//go:wasmimport ig getParamValue
func getParamValue(key uint64, dst uint64) uint32

//go:wasmimport ig setConfig
func setConfig(key uint64, value uint64, kind uint32) uint32

//go:wasmimport ig newMap
func newMap(name uint64, typ uint32, keySize uint32, valueSize uint32, maxEntries uint32) uint32

//go:wasmimport ig getMap
func getMap(name uint64) uint32

//go:wasmimport ig mapLookup
func mapLookup(m uint32, key uint64, value uint64) uint32

//go:wasmimport ig mapUpdate
func mapUpdate(m uint32, key uint64, value uint64, flags uint64) uint32

//go:wasmimport ig mapDelete
func mapDelete(m uint32, key uint64) uint32

//go:wasmimport ig mapRelease
func mapRelease(m uint32) uint32

//go:wasmimport ig getSyscallID
func getSyscallID(name uint64) int32

//go:wasmimport ig getSyscallName
func getSyscallName(id uint32, dst uint64) uint32

//go:wasmimport ig getSyscallDeclaration
func getSyscallDeclaration(name uint64, dst uint64) uint32

//go:wasmimport ig newPerfReader
func newPerfReader(m uint32, size uint32, overwritable uint32) uint32

//go:wasmimport ig perfReaderPause
func perfReaderPause(r uint32) uint32

//go:wasmimport ig perfReaderResume
func perfReaderResume(r uint32) uint32

//go:wasmimport ig perfReaderClose
func perfReaderClose(r uint32) uint32

//go:wasmimport ig perfReaderRead
func perfReaderRead(r uint32, dst uint64) uint32

//go:wasmimport ig releaseHandle
func releaseHandle(h uint32) uint32

//go:wasmimport ig kallsymsSymbolExists
func kallsymsSymbolExists(name uint64) uint32

//go:wasmimport ig shouldDiscardMntnsID
func shouldDiscardMntnsID(mntns uint64) uint32
