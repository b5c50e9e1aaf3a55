package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gadgetry/gadgetry/oci"
)

// progressLine shows a pull's or a push's progress on one terminal line, rewritten in place
// at most every progressInterval and erased when the transfer ends. It is used only when
// stderr is a terminal: on a pipe or a file nothing is shown.
type progressLine struct {
	w     io.Writer
	mu    sync.Mutex
	last  time.Time
	shown bool
}

// progressInterval is how often the line is redrawn at most.
const progressInterval = 100 * time.Millisecond

func newProgressLine(w io.Writer) *progressLine { return &progressLine{w: w} }

// show draws t (the first report at once, then at most every progressInterval) and erases
// the line when t.Done.
func (p *progressLine) show(t oci.Transfer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.Done {
		if p.shown {
			fmt.Fprint(p.w, "\r\033[K")
			p.shown = false
		}
		return
	}
	now := time.Now()
	if p.shown && now.Sub(p.last) < progressInterval {
		return
	}
	verb := "pulling"
	if t.Push {
		verb = "pushing"
	}
	fmt.Fprintf(p.w, "\r\033[K%s %s: %s, %d %s done", verb, t.Ref, byteCount(t.Bytes), t.Blobs, plural(t.Blobs, "blob", "blobs"))
	p.shown, p.last = true, now
}

// byteCount says n in B, KiB or MiB.
func byteCount(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
