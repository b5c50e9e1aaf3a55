package attach

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// LSMListPath is the securityfs file listing the kernel's active LSMs, in order.
const LSMListPath = "/sys/kernel/security/lsm"

// ActiveLSMs returns the kernel's active LSMs ("lockdown", "capability", ..., "bpf"), read from
// securityfs. An error means securityfs is not mounted (or not readable), not that there are none.
func ActiveLSMs() ([]string, error) {
	b, err := os.ReadFile(LSMListPath)
	if err != nil {
		return nil, fmt.Errorf("reading the active LSMs: %w (mount securityfs: mount -t securityfs securityfs /sys/kernel/security)", err)
	}
	return strings.Split(strings.TrimSpace(string(b)), ","), nil
}

// BPFLSMActive returns nil when the BPF LSM is among the active LSMs, so that the verdicts of
// lsm programs are enforced; otherwise an error wrapping ErrKernelLacks that says why. A kernel
// built with CONFIG_BPF_LSM loads and attaches lsm programs even when "bpf" is missing from its
// lsm= list, but then never calls them: whether an lsm program attaches proves nothing.
func BPFLSMActive() error {
	// The reason is the innermost error, so that messages quoting a root cause quote it.
	lsms, err := ActiveLSMs()
	if err != nil {
		return lacks{errors.New("cannot tell whether the BPF LSM is active: " + err.Error())}
	}
	if !slices.Contains(lsms, "bpf") {
		return lacks{fmt.Errorf("the BPF LSM is not active: %s lists %s (boot with lsm=%s,bpf on a kernel built with CONFIG_BPF_LSM)",
			LSMListPath, strings.Join(lsms, ","), strings.Join(lsms, ","))}
	}
	return nil
}
