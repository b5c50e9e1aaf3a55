package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/gadgetry/gadgetry/api/v1"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// serverRun is one client's run: its stream, its output buffer and the messages queued for
// the client.
type serverRun struct {
	s      *Server
	stream apiv1.Gadgetry_RunServer
	ctx    context.Context

	out     chan *apiv1.RunServerMessage // to the sender
	sendErr atomic.Pointer[error]

	stopOnce sync.Once
	stopReq  chan struct{}
	shutdown atomic.Bool // stopped because the daemon is shutting down

	// buf collects the output's bytes; they are sent once started, at each flush.
	bufMu   sync.Mutex
	buf     bytes.Buffer
	started atomic.Bool
	output  Output
}

// Run implements api/v1: see gadgetry.proto.
func (s *Server) Run(stream apiv1.Gadgetry_RunServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	req := first.GetStart()
	if req == nil {
		return status.Error(codes.InvalidArgument, "the first message of a run must be start (a RunRequest)")
	}
	r := &serverRun{s: s, stream: stream, ctx: stream.Context(), out: make(chan *apiv1.RunServerMessage, 256), stopReq: make(chan struct{})}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return status.Errorf(codes.Unavailable, "node %s: the daemon is shutting down", s.opts.Node)
	}
	s.runs[r] = true
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.runs, r)
		s.mu.Unlock()
		s.wg.Done()
	}()
	senderDone := make(chan struct{})
	go r.sender(senderDone)
	go r.receiver()
	err = r.run(req)
	close(r.out)
	<-senderDone
	if err == nil && r.shutdown.Load() {
		err = status.Errorf(codes.Unavailable, "node %s: the daemon is shutting down (its pod is being deleted or restarted)", s.opts.Node)
	}
	if err == nil {
		if p := r.sendErr.Load(); p != nil {
			err = *p
		}
	}
	return err
}

// sender sends the queued messages in order; once a send fails (the client is gone) the rest
// are dropped.
func (r *serverRun) sender(done chan struct{}) {
	defer close(done)
	failed := false
	for m := range r.out {
		if failed {
			continue
		}
		if err := r.stream.Send(m); err != nil {
			r.sendErr.Store(&err)
			failed = true
		}
	}
}

// receiver reads the client's messages: a stop ends the run gracefully. The end of the
// client's messages (CloseSend) is not a stop; the client going away ends the stream's
// context, which the run is started with.
func (r *serverRun) receiver() {
	for {
		m, err := r.stream.Recv()
		if err != nil {
			return
		}
		if m.GetStop() != nil {
			r.requestStop(false)
		}
	}
}

func (r *serverRun) requestStop(shutdown bool) {
	if shutdown {
		r.shutdown.Store(true)
	}
	r.stopOnce.Do(func() { close(r.stopReq) })
}

// send queues m for the client; it gives up when the client is gone.
func (r *serverRun) send(m *apiv1.RunServerMessage) {
	select {
	case r.out <- m:
	case <-r.ctx.Done():
	}
}

func (r *serverRun) warn(text string, note bool) {
	r.send(&apiv1.RunServerMessage{Msg: &apiv1.RunServerMessage_Warning{Warning: &apiv1.Warning{Text: text, Note: note}}})
}

// Write collects the output's bytes (io.Writer for the Output).
func (r *serverRun) Write(p []byte) (int, error) {
	r.bufMu.Lock()
	defer r.bufMu.Unlock()
	return r.buf.Write(p)
}

// flush flushes the output and, once the run has started, sends what it wrote.
func (r *serverRun) flush() {
	if r.output == nil {
		return
	}
	_ = r.output.Flush()
	if !r.started.Load() {
		return
	}
	r.bufMu.Lock()
	if r.buf.Len() == 0 {
		r.bufMu.Unlock()
		return
	}
	data := bytes.Clone(r.buf.Bytes())
	r.buf.Reset()
	r.bufMu.Unlock()
	r.send(&apiv1.RunServerMessage{Msg: &apiv1.RunServerMessage_Output{Output: &apiv1.Output{Data: data}}})
}

// takeBuf returns and clears what the output wrote so far.
func (r *serverRun) takeBuf() []byte {
	r.bufMu.Lock()
	defer r.bufMu.Unlock()
	b := bytes.Clone(r.buf.Bytes())
	r.buf.Reset()
	return b
}

// run runs the gadget to its end; the returned error is the stream's status.
func (r *serverRun) run(req *apiv1.RunRequest) error {
	s := r.s
	node := s.opts.Node
	log := slog.New(&clientLog{r: r})
	img, g, err := s.prepare(r.ctx, req.Image, req.Pull, log)
	if err != nil {
		s.metrics.runFailed()
		return err
	}
	if s.opts.Unverified != nil && !img.BuiltIn {
		if msg := s.opts.Unverified(img); msg != "" {
			r.warn(msg, false)
		}
	}
	params := map[string]string{}
	for k, v := range req.Params {
		if err := g.Validate(k, v); err != nil {
			s.metrics.runFailed()
			return status.Errorf(codes.InvalidArgument, "%v", err)
		}
		params[k] = v
	}
	var hooks []runtime.Hooks
	var guest *datasource.SubscriberTime
	if len(img.WASM) > 0 {
		// First after the guest's own: the subscriptions so far are the guest's.
		guest = &datasource.SubscriberTime{}
		hooks = append(hooks, runtime.Hooks{Name: "guest-time", Init: func(r *runtime.Run) error {
			for _, ds := range r.DataSources() {
				ds.TimeSubscribers(guest)
			}
			return nil
		}})
	}
	sel := req.GetSelection()
	podSel := sel.GetPod() != "" || sel.GetLabelSelector() != "" || len(sel.GetNamespaces()) > 0 || sel.GetAllNamespaces()
	if podSel && s.opts.Pods == nil {
		s.metrics.runFailed()
		return status.Errorf(codes.FailedPrecondition, "node %s: the daemon reaches no container runtime (CRI socket, --runtime-socket): it cannot select pods", node)
	}
	if (podSel || sel.GetContainers() != "") && !g.SelectsContainers() {
		s.metrics.runFailed()
		return status.Errorf(codes.InvalidArgument, "gadget %s records no mount namespace (no field of type gadget_mntns_id) and does not ask for the containers data source (annotation %s: true): it cannot select pods or containers", g.Name, runtime.ContainersDataSourceAnnotation)
	}
	if g.SelectsContainers() && s.opts.Containers != nil {
		var cs containers.Selector
		if !podSel {
			if cs, err = containers.ParseSelector(sel.GetContainers()); err != nil {
				s.metrics.runFailed()
				return status.Errorf(codes.InvalidArgument, "-c: %v", err)
			}
		}
		hooks = append(hooks, runtime.ContainerHooks(s.opts.Containers, cs))
	}
	if podSel {
		ps, err := ParseSelection(sel.GetNamespaces(), sel.GetAllNamespaces(), sel.GetPod(), sel.GetLabelSelector(), sel.GetContainers())
		if err != nil {
			s.metrics.runFailed()
			return status.Errorf(codes.InvalidArgument, "%v", err)
		}
		pods := s.opts.Pods.Select(ps)
		if pods.count() == 0 {
			r.warn(fmt.Sprintf("node %s: no running container matches (%s); waiting for one to start", node, ps), true)
		}
		hooks = append(hooks, runtime.SelectionHooks(pods))
	}
	hooks = append(hooks, k8sHooks(node, s.opts.Pods))
	out, err := s.opts.Output(req.GetOutput(), r)
	if err != nil {
		s.metrics.runFailed()
		return status.Errorf(codes.InvalidArgument, "%v", err)
	}
	r.output = out
	var header []byte
	hooks = append(hooks, out.Hooks(), runtime.Hooks{Name: "header",
		// Before attach: no record was written yet, so the buffer holds the headers alone.
		Start: func(*runtime.Run) error {
			out.Header()
			_ = out.Flush()
			header = r.takeBuf()
			return nil
		}})
	// The run's own context: the stream's (a client gone stops it at once), or the stop.
	run, err := runtime.New(runtime.Options{Logger: log, WASM: s.opts.WASM}).Start(r.ctx, g, runtime.RunOptions{
		Params:             params,
		Hooks:              hooks,
		Timeout:            time.Duration(req.TimeoutMs) * time.Millisecond,
		AfterDrain:         r.flush,
		WASMMemoryLimitMiB: req.WasmMemoryLimitMib,
		OnLost: func(ds string, newly, total uint64) {
			r.send(&apiv1.RunServerMessage{Msg: &apiv1.RunServerMessage_Lost{Lost: &apiv1.Lost{DataSource: ds, Newly: newly, Total: total}}})
		},
	})
	if err != nil {
		s.metrics.runFailed()
		return status.Errorf(codeOf(r.ctx, err), "node %s: %v", node, err)
	}
	active := &activeRun{gadget: g.Name, run: run, guest: guest}
	s.metrics.runStarted(active)
	r.send(&apiv1.RunServerMessage{Msg: &apiv1.RunServerMessage_Started{Started: &apiv1.Started{
		Node: node, Gadget: g.Name, ImageRef: img.Ref, Digest: digestOf(img), Header: header}}})
	r.started.Store(true)
	r.flush() // what arrived before Started
	go func() {
		select {
		case <-r.stopReq:
			_ = run.Stop()
		case <-run.Done():
		}
	}()
	werr := run.Wait()
	r.flush()
	summary := run.Summary()
	s.metrics.runEnded(active, werr != nil && r.ctx.Err() == nil)
	sm := &apiv1.Summary{DataSources: map[string]*apiv1.Counts{}, SkippedPrograms: summary.SkippedPrograms, Choices: summary.Choices}
	for name, c := range summary.DataSources {
		sm.DataSources[name] = &apiv1.Counts{Events: c.Events, Lost: c.Lost, Dropped: c.Dropped, Unread: c.Unread}
	}
	if guest != nil {
		d, n := guest.Total()
		sm.WasmGuestNs, sm.WasmGuestRecords = uint64(d), n
	}
	r.send(&apiv1.RunServerMessage{Msg: &apiv1.RunServerMessage_Summary{Summary: sm}})
	if werr != nil && r.ctx.Err() == nil {
		return status.Errorf(codes.Aborted, "node %s: %v", node, werr)
	}
	return nil
}

// clientLog sends the run's log records at warning level and above to its client.
type clientLog struct {
	r     *serverRun
	attrs []slog.Attr
}

func (h *clientLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *clientLog) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	rec.Attrs(add)
	h.r.warn(b.String(), false)
	return nil
}

func (h *clientLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &clientLog{r: h.r, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}

func (h *clientLog) WithGroup(string) slog.Handler { return h }

var _ io.Writer = (*serverRun)(nil)
