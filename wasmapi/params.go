package wasmapi

// maxParamLen bounds a parameter value (the host writes it NUL-terminated). Parameters are
// read a few times per run, so one generous buffer is cheaper than a retry protocol.
const maxParamLen = 64 << 10

// GetParamValue returns the value of the parameter key (params.wasm.<key> of gadget.yaml,
// or an eBPF parameter), with its default when the user gave none.
func GetParamValue(key string) (string, error) {
	buf := make([]byte, maxParamLen)
	rc := getParamValue(strArg(key), bufArg(buf))
	keepStr(key)
	if rc != 0 {
		return "", fail("param " + key)
	}
	return cstring(buf), nil
}

// SetConfig sets key of the gadget's configuration, e.g. "programs.<prog>.attach_to" to
// change where a program attaches (or "gadget_program_disabled" to skip it). Call it from
// OnInit or OnPreStart: the collection is loaded after PreStart.
func SetConfig(key, value string) error {
	err := check(setConfig(strArg(key), strArg(value), uint32(KindString)), "set config "+key)
	keepStr(key)
	keepStr(value)
	return err
}
