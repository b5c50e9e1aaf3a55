package k8sclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	apiv1 "github.com/gadgetry/gadgetry/api/v1"
)

// Node is one node daemon the client talks to.
type Node struct {
	// Name is the node's name (the daemon's, once Info answered).
	Name string
	// Addr is where its gRPC API is reached (a port-forward's local address, or the daemon's
	// own address).
	Addr string

	conn    *grpc.ClientConn
	client  apiv1.GadgetryClient
	forward *Forward
}

// Dial connects to a daemon at addr. Keepalives notice a connection that died silently.
func Dial(name, addr string) (*Node, error) {
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("node %s: connecting to %s: %w", name, addr, err)
	}
	return &Node{Name: name, Addr: addr, conn: conn, client: apiv1.NewGadgetryClient(conn)}, nil
}

// DialPod port-forwards to the daemon pod of d and connects through it.
func DialPod(ctx context.Context, cfg *Config, d DaemonPod) (*Node, error) {
	f, err := NewForward(ctx, cfg.Rest, DaemonNamespace, d.Pod, DaemonPort)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", d.Node, err)
	}
	n, err := Dial(d.Node, f.Addr)
	if err != nil {
		f.Close()
		return nil, err
	}
	n.forward = f
	return n, nil
}

// Client is the node's API client.
func (n *Node) Client() apiv1.GadgetryClient { return n.client }

// Close closes the connection and the port-forward.
func (n *Node) Close() {
	_ = n.conn.Close()
	if n.forward != nil {
		n.forward.Close()
	}
}

// Info asks the daemon who it is; the node takes the daemon's name.
func (n *Node) Info(ctx context.Context) (*apiv1.InfoResponse, error) {
	info, err := n.client.Info(ctx, &apiv1.InfoRequest{})
	if err != nil {
		return nil, n.explain(err)
	}
	if info.ApiVersion != 1 {
		return nil, fmt.Errorf("node %s: the daemon serves API version %d, this client speaks 1: use the gadgetry of the daemon's version (%s)", n.Name, info.ApiVersion, info.Version)
	}
	if info.Node != "" {
		n.Name = info.Node
	}
	return info, nil
}

// CallError is a failed call to a daemon: its gRPC status code and what it said.
type CallError struct {
	Code codes.Code
	Msg  string
}

func (e *CallError) Error() string { return e.Msg }

// explain turns a failed call into a CallError, adding what the node's port-forward says when
// it ended.
func (n *Node) explain(err error) error {
	msg := Message(err)
	if n.forward != nil {
		select {
		case <-n.forward.Done():
			if ferr := n.forward.Err(); ferr != nil {
				msg += "; the port-forward to its pod ended: " + ferr.Error()
			} else {
				msg += "; the port-forward to its pod ended (the pod is gone?)"
			}
		default:
		}
	}
	return &CallError{Code: status.Code(err), Msg: msg}
}

// Message is an error's text without gRPC's "rpc error: code = ... desc =" wrapping.
func Message(err error) string {
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable:
			return "the daemon is unreachable or went away: " + st.Message()
		case codes.Canceled:
			return "cancelled"
		}
		return st.Message()
	}
	return err.Error()
}

// Handler receives what the nodes of a run send. Calls come from one goroutine per node: a
// handler serialises them itself.
type Handler interface {
	Started(node string, s *apiv1.Started)
	Output(node string, data []byte)
	Warning(node string, w *apiv1.Warning)
	Lost(node string, l *apiv1.Lost)
	// Ended is called once per node: summary is the last one the node sent (nil when none);
	// err is nil when the run ended as asked (stop, timeout), else why the node failed.
	Ended(node string, summary *apiv1.Summary, err error)
}

// Run is a gadget running on several nodes.
type Run struct {
	nodes []*nodeRun
	wg    sync.WaitGroup
}

type nodeRun struct {
	n      *Node
	mu     sync.Mutex
	stream apiv1.Gadgetry_RunClient
	stop   bool
}

// Start starts req on every node. ctx bounds the whole run: cancelling it drops every stream
// (the daemons stop their runs at once); Stop ends it gracefully.
func Start(ctx context.Context, nodes []*Node, req *apiv1.RunRequest, h Handler) *Run {
	r := &Run{}
	for _, n := range nodes {
		nr := &nodeRun{n: n}
		r.nodes = append(r.nodes, nr)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			summary, err := nr.run(ctx, req, h)
			h.Ended(n.Name, summary, err)
		}()
	}
	return r
}

func (nr *nodeRun) run(ctx context.Context, req *apiv1.RunRequest, h Handler) (*apiv1.Summary, error) {
	stream, err := nr.n.client.Run(ctx)
	if err != nil {
		return nil, nr.n.explain(err)
	}
	nr.mu.Lock()
	nr.stream = stream
	err = stream.Send(&apiv1.RunClientMessage{Msg: &apiv1.RunClientMessage_Start{Start: req}})
	stop := nr.stop
	nr.mu.Unlock()
	if err == nil && stop {
		err = stream.Send(&apiv1.RunClientMessage{Msg: &apiv1.RunClientMessage_Stop{Stop: &apiv1.StopRequest{}}})
	}
	var summary *apiv1.Summary
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nr.n.explain(err)
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return summary, nil
		}
		if err != nil {
			return summary, nr.n.explain(err)
		}
		switch x := m.Msg.(type) {
		case *apiv1.RunServerMessage_Started:
			h.Started(nr.n.Name, x.Started)
		case *apiv1.RunServerMessage_Output:
			h.Output(nr.n.Name, x.Output.Data)
		case *apiv1.RunServerMessage_Warning:
			h.Warning(nr.n.Name, x.Warning)
		case *apiv1.RunServerMessage_Lost:
			h.Lost(nr.n.Name, x.Lost)
		case *apiv1.RunServerMessage_Summary:
			summary = x.Summary
		}
	}
}

// Stop asks every node to end the run: each sends its last records and its summary.
func (r *Run) Stop() {
	for _, nr := range r.nodes {
		nr.mu.Lock()
		nr.stop = true
		if nr.stream != nil {
			_ = nr.stream.Send(&apiv1.RunClientMessage{Msg: &apiv1.RunClientMessage_Stop{Stop: &apiv1.StopRequest{}}})
		}
		nr.mu.Unlock()
	}
}

// Wait waits until every node's run has ended.
func (r *Run) Wait() { r.wg.Wait() }
