package runtime_test

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/gadgetry/gadgetry/runtime/gadgettest"
)

// TestFNV1aHeader runs <gadget/fnv1a.h> in the kernel (testdata/fnv.bpf.c, an XDP program
// run once with BPF_PROG_TEST_RUN) and compares its hashes with Go's hash/fnv over the same
// bytes, least significant first.
func TestFNV1aHeader(t *testing.T) {
	gadgettest.RequireRoot(t)
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(gadgettest.Compile(t, "fnv")))
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	if _, err := coll.Programs["gtest_fnv_hash"].Run(&ebpf.RunOptions{Data: make([]byte, 64)}); err != nil {
		t.Fatal(err)
	}
	var in []byte
	in = binary.LittleEndian.AppendUint64(in, 0x0123456789abcdef)
	in = binary.LittleEndian.AppendUint32(in, 0xdeadbeef)
	in = binary.LittleEndian.AppendUint16(in, 0xcafe)
	in = append(in, 0x42)
	h32, h64 := fnv.New32a(), fnv.New64a()
	h32.Write(in)
	h64.Write(in)
	for key, want := range []uint64{uint64(h32.Sum32()), h64.Sum64()} {
		var got uint64
		if err := coll.Maps["gtest_fnv"].Lookup(uint32(key), &got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("hash %d: kernel %#x, Go %#x", key, got, want)
		}
	}
}
