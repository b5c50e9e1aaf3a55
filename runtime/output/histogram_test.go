package output_test

import (
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/runtime/output"
)

// TestAppendHistogram: slots up to the last that counted, bounds aligned, bars scaled to the
// largest count; a histogram that counted nothing says so in one line.
func TestAppendHistogram(t *testing.T) {
	for _, tc := range []struct {
		name, unit string
		slots      []uint64
		want       []string
	}{
		{"latency", "µs", []uint64{0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0}, []string{
			"latency (µs)",
			"           0 -> 1    : 0        |                                        |",
			"           2 -> 3    : 4        |********************                    |",
			"           4 -> 7    : 0        |                                        |",
			"           8 -> 15   : 0        |                                        |",
			"          16 -> 31   : 0        |                                        |",
			"          32 -> 63   : 0        |                                        |",
			"          64 -> 127  : 0        |                                        |",
			"         128 -> 255  : 0        |                                        |",
			"         256 -> 511  : 0        |                                        |",
			"         512 -> 1023 : 0        |                                        |",
			"        1024 -> 2047 : 8        |****************************************|",
		}},
		{"sizes", "", []uint64{1234567890, 1}, []string{
			"sizes",
			"        0 -> 1 : 1234567890 |****************************************|",
			"        2 -> 3 : 1          |                                        |",
		}},
		{"idle", "ns", make([]uint64, 27), []string{"idle (ns): nothing counted"}},
	} {
		got := strings.TrimSuffix(string(output.AppendHistogram(nil, tc.name, tc.unit, tc.slots)), "\n")
		if want := strings.Join(tc.want, "\n"); got != want {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", tc.name, got, want)
		}
	}
}
