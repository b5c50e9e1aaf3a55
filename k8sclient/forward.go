package k8sclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/gadgetry/gadgetry/internal/kubeapi"
)

// Forward is a port-forward to one pod: a local TCP port on 127.0.0.1 whose connections reach
// the pod's port through the API server.
type Forward struct {
	// Addr is the local address ("127.0.0.1:PORT").
	Addr string

	fw      *portforward.PortForwarder
	stop    chan struct{}
	once    sync.Once
	done    chan struct{}
	errMu   sync.Mutex
	err     error
	errText *syncBuffer
}

// NewForward forwards a free local port to port of pod in namespace ns, as kubectl
// port-forward does (WebSocket, falling back to SPDY with an API server that lacks it). It
// returns once the local port listens.
func NewForward(ctx context.Context, cfg *rest.Config, ns, pod string, port int) (*Forward, error) {
	c, err := kubeapi.New(cfg)
	if err != nil {
		return nil, err
	}
	u, err := c.URL(kubeapi.Pods, ns, pod, "portforward")
	if err != nil {
		return nil, err
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	var dialer httpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	if ws, err := portforward.NewSPDYOverWebsocketDialer(u, cfg); err == nil {
		dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	}
	f := &Forward{stop: make(chan struct{}), done: make(chan struct{}), errText: &syncBuffer{}}
	ready := make(chan struct{})
	f.fw, err = portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, f.stop, ready, io.Discard, f.errText)
	if err != nil {
		return nil, err
	}
	go func() {
		err := f.fw.ForwardPorts()
		f.errMu.Lock()
		f.err = err
		f.errMu.Unlock()
		close(f.done)
	}()
	select {
	case <-ready:
	case <-f.done:
		return nil, fmt.Errorf("port-forward to pod %s/%s port %d: %w", ns, pod, port, f.Err())
	case <-ctx.Done():
		f.Close()
		return nil, ctx.Err()
	case <-time.After(time.Minute): // a hang guard: an API server that never answers
		f.Close()
		return nil, fmt.Errorf("port-forward to pod %s/%s port %d: no answer from the API server in a minute", ns, pod, port)
	}
	ports, err := f.fw.GetPorts()
	if err != nil || len(ports) == 0 {
		f.Close()
		return nil, fmt.Errorf("port-forward to pod %s/%s: no local port: %v", ns, pod, err)
	}
	f.Addr = fmt.Sprintf("127.0.0.1:%d", ports[0].Local)
	return f, nil
}

// Done is closed when the forward has ended (Close, or the connection to the pod was lost).
func (f *Forward) Done() <-chan struct{} { return f.done }

// Err says why the forward ended, once Done is closed.
func (f *Forward) Err() error {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	msg := strings.TrimSpace(f.errText.String())
	switch {
	case f.err != nil && msg != "":
		return fmt.Errorf("%w (%s)", f.err, msg)
	case f.err != nil:
		return f.err
	case msg != "":
		return errors.New(msg)
	}
	return nil
}

// Close ends the forward.
func (f *Forward) Close() {
	f.once.Do(func() { close(f.stop) })
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
