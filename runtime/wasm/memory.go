package wasm

import (
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// Guest memory limits, in MiB.
const (
	// DefaultMemoryLimitMiB bounds a guest's linear memory unless configured otherwise.
	DefaultMemoryLimitMiB = 256
	// MaxMemoryLimitMiB is the most a 32-bit WASM memory can address (65536 pages of 64 KiB).
	MaxMemoryLimitMiB = 4096
)

// ErrMemoryLimit is wrapped by the error of a guest whose memory.grow went past its limit.
var ErrMemoryLimit = errors.New("wasm module exceeded its memory limit")

// checkMemoryLimit validates a limit in MiB.
func checkMemoryLimit(mib uint32) error {
	if mib == 0 || mib > MaxMemoryLimitMiB {
		return fmt.Errorf("wasm memory limit %d MiB: want 1 to %d MiB", mib, MaxMemoryLimitMiB)
	}
	return nil
}

// guestMemory backs one guest's linear memory and enforces its limit. It is wazero's memory
// allocator for that instance (experimental.MemoryAllocator): wazero asks it for every size
// the memory grows to, so a memory.grow past the limit is refused here, and the host knows
// exactly why the guest then failed (a Go guest's runtime throws "out of memory" when its
// memory cannot grow) instead of guessing from the trap or from time.
//
// The memory is one anonymous mapping reserved up front as address space only (PROT_NONE, no
// memory committed) and made readable and writable as the guest grows: growing never copies
// the guest's memory, and what the guest never touches costs nothing.
type guestMemory struct {
	limit  uint64 // bytes
	mem    []byte // the reservation, or Go memory when it could not be reserved
	mapped bool   // mem is the mapping
	size   uint64 // bytes accessible to the guest
	began  bool   // the initial allocation is done
	// refused is the size of the first grow past the limit (0: none). The guest's calls
	// are serialized by the Instance, which reads it after each call.
	refused uint64
	// err is a failure to commit memory below the limit (the host's, not the guest's).
	err error
}

func newGuestMemory(limitMiB uint32) *guestMemory {
	return &guestMemory{limit: uint64(limitMiB) << 20}
}

// Allocate implements experimental.MemoryAllocator. initial is the memory's initial size (its
// declared minimum) and most the largest size its declaration allows.
func (m *guestMemory) Allocate(initial, most uint64) experimental.LinearMemory {
	// A module whose initial memory alone exceeds the limit still gets it (wazero cannot take
	// a refusal here); Instantiate then fails it with the limit error.
	reserve := max(min(m.limit, most), initial, 1<<16)
	mem, err := unix.Mmap(-1, 0, int(reserve), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err == nil {
		m.mem, m.mapped = mem, true
	}
	return m
}

// Reallocate implements experimental.LinearMemory: the guest's memory becomes size bytes.
// nil refuses the grow (memory.grow returns -1 to the guest).
func (m *guestMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		if m.refused == 0 {
			m.refused = size
		}
		if m.began {
			return nil
		}
		// The initial allocation: it cannot be refused.
	}
	m.began = true
	if size <= m.size {
		return m.mem[:size:size]
	}
	if !m.mapped {
		// No reservation: Go memory, copied when it grows (as wazero does without an allocator).
		if size > uint64(cap(m.mem)) {
			grown := make([]byte, size, max(size, min(2*uint64(cap(m.mem)), m.limit)))
			copy(grown, m.mem[:m.size])
			m.mem = grown
		}
	} else if size > uint64(len(m.mem)) {
		return nil // past the module's own declared maximum (wazero refuses it first)
	} else if err := unix.Mprotect(m.mem[m.size:size], unix.PROT_READ|unix.PROT_WRITE); err != nil {
		m.err = fmt.Errorf("the host could not commit %d MiB of memory for the module: %w", size>>20, err)
		return nil
	}
	m.size = size
	return m.mem[:size:size]
}

// Free implements experimental.LinearMemory.
func (m *guestMemory) Free() {
	if m.mapped {
		_ = unix.Munmap(m.mem)
	}
	m.mem, m.mapped, m.size = nil, false, 0
}

// limitError is the error of a guest that went past its memory limit.
func (i *Instance) limitError() error {
	return fmt.Errorf("gadget %s: %w (%d MiB); raise it with --wasm-memory-limit", i.name, ErrMemoryLimit, i.memLimitMiB)
}
