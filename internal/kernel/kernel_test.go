package kernel

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
)

// TestFeatures probes every feature and logs the kernel's capability table, so the CI log
// shows what each kernel (host and VM) has and why not.
func TestFeatures(t *testing.T) {
	for _, f := range All() {
		err := Have(f)
		if err == nil {
			t.Logf("kernel %s: %-14s yes", Release(), f)
			continue
		}
		t.Logf("kernel %s: %-14s no: %v", Release(), f, err)
		if !errors.Is(err, ebpf.ErrNotSupported) && !errors.Is(err, ErrNeedsRoot) {
			t.Errorf("%s: error does not wrap ebpf.ErrNotSupported: %v", f, err)
		}
	}
}
