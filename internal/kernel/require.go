package kernel

import (
	"errors"
	"os"
	"testing"
)

// Require stops tb unless the kernel has every feature in fs. A missing feature skips the
// test with the reason, except where it is Expected (always inside the vmtest VM): there it
// fails the test. A probe that could not run at all (not root) fails the test when CI=true.
func Require(tb testing.TB, fs ...Feature) {
	tb.Helper()
	for _, f := range fs {
		if err := Have(f); err != nil {
			require(tb, f, err)
		}
	}
}

// require stops tb for the missing feature f, err being why it is missing.
func require(tb testing.TB, f Feature, err error) {
	tb.Helper()
	switch {
	case Expected(f):
		where := "GADGETRY_EXPECT_FEATURES lists it"
		if InVM() {
			where = "the vmtest VM expects it"
		}
		tb.Fatalf("kernel %s: %s is required here (%s) but missing: %v", Release(), f, where, err)
	case errors.Is(err, ErrNeedsRoot) && os.Getenv("CI") == "true":
		tb.Fatalf("kernel %s: cannot probe %s: %v (CI runs the tests as root)", Release(), f, err)
	default:
		tb.Skipf("kernel %s lacks %s: %v", Release(), f, err)
	}
}
