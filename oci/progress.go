package oci

import (
	"context"
	"io"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Transfer is how far a pull or a push has got, as Registry.Progress is told.
type Transfer struct {
	// Ref is the image moved (a full reference).
	Ref string
	// Push is true for a push, false for a pull.
	Push bool
	// Blobs is the number of blobs (manifests, config, layers) moved whole.
	Blobs int
	// Bytes is the number of bytes moved, of whole blobs and of those under way.
	Bytes int64
	// Done is true in the last report, when the transfer ended, well or not.
	Done bool
}

// tracker counts what a transfer moves and reports it. Its methods may be called from the
// copy's goroutines at once; a nil tracker does nothing.
type tracker struct {
	mu sync.Mutex
	t  Transfer
	fn func(Transfer)
}

func newTracker(fn func(Transfer), ref string, push bool) *tracker {
	if fn == nil {
		return nil
	}
	return &tracker{fn: fn, t: Transfer{Ref: ref, Push: push}}
}

func (t *tracker) add(n int, whole bool) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.t.Bytes += int64(n)
	if whole {
		t.t.Blobs++
	}
	t.fn(t.t)
}

// done sends the last report.
func (t *tracker) done() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.t.Done = true
	t.fn(t.t)
}

// tracked is a blob source whose reads the tracker counts.
type tracked struct {
	content.ReadOnlyStorage
	tr *tracker
}

// track returns src counting its reads in tr (src itself when tr is nil).
func track(src content.ReadOnlyStorage, tr *tracker) content.ReadOnlyStorage {
	if tr == nil {
		return src
	}
	return tracked{src, tr}
}

func (c tracked) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := c.ReadOnlyStorage.Fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	return &trackedReader{ReadCloser: rc, tr: c.tr}, nil
}

type trackedReader struct {
	io.ReadCloser
	tr   *tracker
	over bool
}

func (r *trackedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	whole := err == io.EOF && !r.over
	if whole {
		r.over = true
	}
	if n > 0 || whole {
		r.tr.add(n, whole)
	}
	return n, err
}
