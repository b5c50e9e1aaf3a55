package wasmapi

import "strconv"

// Errno is a Linux errno value, as the kernel reports it in events (e.g. 2 for ENOENT).
type Errno int

// Name returns the errno's symbolic name ("ENOENT"), or "errno <n>" for an unknown value.
func (e Errno) Name() string {
	if e > 0 && int(e) < len(errnoNames) && errnoNames[e].name != "" {
		return errnoNames[e].name
	}
	return "errno " + strconv.Itoa(int(e))
}

// String returns the errno's Linux message ("no such file or directory"), or "errno <n>" for
// an unknown value.
func (e Errno) String() string {
	if e > 0 && int(e) < len(errnoNames) && errnoNames[e].name != "" {
		return errnoNames[e].msg
	}
	return "errno " + strconv.Itoa(int(e))
}

// Error returns the same text as String, so an Errno can be returned as an error.
func (e Errno) Error() string { return e.String() }
