package wasmapi

// Version is this SDK's version, a semantic version independent of Gadgetry's own. A gadget's
// go.mod requires it (require github.com/gadgetry/gadgetry/wasmapi VERSION); `gadgetry image
// build` supplies the SDK of that version or any later one with the same major version, and
// `gadgetry image inspect` shows the version a module was built with.
//
// Minor versions only add: a module built against an older SDK keeps running on a newer
// Gadgetry, because the host keeps every import of ABI version 1.
const Version = "v0.6.0"
