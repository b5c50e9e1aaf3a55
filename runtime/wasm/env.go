package wasm

import (
	"log/slog"

	"github.com/cilium/ebpf"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// DataSources gives the guest the run's data sources.
type DataSources interface {
	// DataSource returns the data source called name, or nil.
	DataSource(name string) *datasource.DataSource
	// NewDataSource creates a data source the guest emits on.
	NewDataSource(name string, typ datasource.Type) (*datasource.DataSource, error)
	// Unreference marks ds as not needed downstream (it is not output).
	Unreference(ds *datasource.DataSource) error
	// IsReferenced reports whether anything downstream uses ds.
	IsReferenced(ds *datasource.DataSource) bool
}

// Maps gives the guest the eBPF collection's maps.
type Maps interface {
	// Map returns the map called name. It is called only from gadgetStart on (after load).
	Map(name string) (*ebpf.Map, error)
}

// Env is what an instance needs from the run. Nil members make the host functions that need
// them fail with an error (logged, returned to the guest), except where noted.
type Env struct {
	// Logger receives the guest's log and output, and the host's complaints about the guest.
	// Nil discards.
	Logger *slog.Logger
	// DataSources are the run's data sources.
	DataSources DataSources
	// Maps are the loaded collection's maps.
	Maps Maps
	// Param returns the value of a parameter (params.wasm and eBPF params of gadget.yaml,
	// defaults applied) and whether it exists.
	Param func(key string) (string, bool)
	// SetConfig sets a configuration key (e.g. "programs.<p>.attach_to"). Called only during
	// gadgetInit and gadgetPreStart.
	SetConfig func(key, value string) error
	// ShouldDiscardMntnsID reports whether events of a mount namespace are filtered out. Nil
	// discards nothing.
	ShouldDiscardMntnsID func(mntns uint64) bool
	// KallsymsSymbolExists reports whether the kernel has a symbol. Nil uses Kallsyms, which
	// reads /proc/kallsyms once per process.
	KallsymsSymbolExists func(name string) bool
	// MemoryLimitMiB bounds this guest's memory (0: the engine's Options.MemoryLimitMiB).
	MemoryLimitMiB uint32
	// Containers feed the "containers" data source (ContainersDataSource) a guest may get
	// and subscribe to, when the run has no data source of that name. Nil: there is none.
	Containers Containers
}
