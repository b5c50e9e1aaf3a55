package oci_test

import (
	"archive/tar"
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
)

func exported(t *testing.T) (*oci.Store, []byte) {
	t.Helper()
	ctx := context.Background()
	s := newStore(t)
	for _, n := range []string{"a", "b"} {
		if _, err := ocitest.Push(ctx, s, "localhost/g/"+n+":v1", ocitest.Simple(n)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := oci.Export(ctx, s, []string{"localhost/g/b:v1", "localhost/g/a:v1"}, &buf); err != nil {
		t.Fatal(err)
	}
	return s, buf.Bytes()
}

// Acceptance: export → import into an empty store gives identical digests; export is
// deterministic (sorted entries, fixed owners and times).
func TestExportImport(t *testing.T) {
	ctx := context.Background()
	src, tarball := exported(t)
	var again bytes.Buffer
	if err := oci.Export(ctx, src, []string{"localhost/g/a:v1", "localhost/g/b:v1"}, &again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tarball, again.Bytes()) {
		t.Fatal("two exports of the same images differ")
	}
	tr := tar.NewReader(bytes.NewReader(tarball))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != 0 {
			t.Fatalf("%s: uid %d gid %d mtime %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		names = append(names, h.Name)
	}
	if names[0] != "oci-layout" || names[1] != "index.json" || names[2] != "blobs/" || names[3] != "blobs/sha256/" {
		t.Fatalf("entry order: %v", names[:4])
	}
	for i := 5; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Fatalf("blobs not sorted: %v", names)
		}
	}

	dst := newStore(t)
	es, err := oci.Import(ctx, dst, bytes.NewReader(tarball))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := src.List(ctx)
	got, _ := dst.List(ctx)
	if len(es) != 2 || !reflect.DeepEqual(want, got) {
		t.Fatalf("after import: %+v\nwant %+v", got, want)
	}
	for _, e := range got {
		if _, err := oci.Load(ctx, dst, e.Ref, "arm64"); err != nil {
			t.Fatal(err)
		}
	}
}

type entry struct {
	name string
	typ  byte
	size int64
	data string
	link string
}

func makeTar(es []entry, truncate int) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		size := e.size
		if size == 0 {
			size = int64(len(e.data))
		}
		tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Size: size, Mode: 0o644, Linkname: e.link})
		tw.Write([]byte(e.data))
	}
	tw.Close()
	b := buf.Bytes()
	if truncate > 0 {
		b = b[:truncate]
	}
	return b
}

// A truncated or hostile tarball is refused and the store is left as it was.
func TestImportRefusesBadTarballs(t *testing.T) {
	ctx := context.Background()
	_, good := exported(t)
	layout := entry{name: "oci-layout", typ: tar.TypeReg, data: `{"imageLayoutVersion":"1.0.0"}`}
	emptyIdx := entry{name: "index.json", typ: tar.TypeReg, data: `{"schemaVersion":2,"manifests":[]}`}
	missing := entry{name: "index.json", typ: tar.TypeReg, data: `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` + ocitest.Digest([]byte("x")) + `","size":1,"annotations":{"org.opencontainers.image.ref.name":"localhost/x:1"}}]}`}
	for _, tc := range []struct {
		name string
		tar  []byte
		want string
	}{
		{"truncated", good[:len(good)/2], "truncated"},
		{"not a tar", []byte("hello, this is not a tarball at all, just text that is long enough........................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................"), "not a tar file"},
		{"dot-dot", makeTar([]entry{layout, {name: "blobs/../../etc/passwd", typ: tar.TypeReg, data: "x"}}, 0), "leaves the layout"},
		{"absolute", makeTar([]entry{{name: "/etc/passwd", typ: tar.TypeReg, data: "x"}}, 0), "absolute"},
		{"symlink", makeTar([]entry{layout, {name: "blobs/sha256/" + strings.Repeat("a", 64), typ: tar.TypeSymlink, link: "/etc/shadow"}}, 0), "only regular files"},
		{"hardlink", makeTar([]entry{layout, {name: "index.json", typ: tar.TypeLink, link: "/etc/shadow"}}, 0), "only regular files"},
		{"huge", makeTar([]entry{layout, {name: "blobs/sha256/" + strings.Repeat("a", 64), typ: tar.TypeReg, size: 10 << 30}}, 0), "outside 0.."},
		{"stranger", makeTar([]entry{layout, {name: "run.sh", typ: tar.TypeReg, data: "x"}}, 0), "not part of an OCI image layout"},
		{"bad digest", makeTar([]entry{layout, emptyIdx, {name: "blobs/sha256/" + strings.Repeat("a", 64), typ: tar.TypeReg, data: "x"}}, 0), "corrupt or tampered"},
		{"no layout", makeTar([]entry{emptyIdx}, 0), "oci-layout missing"},
		{"nothing named", makeTar([]entry{layout, emptyIdx}, 0), "names no image"},
		{"missing blob", makeTar([]entry{layout, missing}, 0), "the tarball lacks this blob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			before := snapshot(t, s.Root())
			_, err := oci.Import(ctx, s, bytes.NewReader(tc.tar))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if !reflect.DeepEqual(before, snapshot(t, s.Root())) {
				t.Fatal("a refused import changed the store")
			}
		})
	}
}
