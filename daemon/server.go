package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	apiv1 "github.com/gadgetry/gadgetry/api/v1"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/wasm"
)

// APIVersion is the version of api/v1 this daemon serves.
const APIVersion = 1

// Output prints a run's records as `gadgetry run` does (the command's output code).
type Output interface {
	// Hooks subscribe the output to the run's data sources (at Init).
	Hooks() runtime.Hooks
	// Header writes the tables' headers (columns mode) now.
	Header()
	// Flush writes what is buffered; after it, what was written ends with a whole line.
	Flush() error
}

// OutputFunc makes a run's Output writing to w. An error that is the client's (a --fields or
// -F that does not apply) is found at Init and says IsUsage() true.
type OutputFunc func(opts *apiv1.OutputOptions, w io.Writer) (Output, error)

// Options configure a Server.
type Options struct {
	// Node is the node's name (--node-name), put in every record as k8s.node.
	Node string
	// Version is the build's version, for Info.
	Version string
	// Source resolves gadget references: built-in gadgets, the daemon's store, registries
	// (with the daemon's credentials), verifying signatures by the daemon's policy.
	Source runtime.Source
	// Unverified, when not nil, says (as a warning to the client) that an image resolved by
	// Source is used without a verified signature; it returns "" when there is nothing to say.
	Unverified func(img *oci.Gadget) string
	// WASM runs the gadgets' WASM modules; shared by the runs.
	WASM *wasm.Engine
	// Containers enriches records with container fields and selects containers by name (-c)
	// on a node without Pods. May be nil.
	Containers *containers.Cache
	// Pods is the node's pods (its container runtime); nil where there is none.
	Pods *Pods
	// Output prints records.
	Output OutputFunc
	// Logger gets the daemon's own messages. Default slog.Default().
	Logger *slog.Logger
}

// Server serves api/v1.
type Server struct {
	apiv1.UnimplementedGadgetryServer
	opts    Options
	metrics *metrics

	mu       sync.Mutex
	runs     map[*serverRun]bool
	shutdown bool
	wg       sync.WaitGroup
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Server{opts: opts, metrics: newMetrics(), runs: map[*serverRun]bool{}}
}

// GRPC returns a gRPC server serving s. Keepalives find a client whose connection died
// without a word (a port-forward torn down), so its runs stop.
func (s *Server) GRPC() *grpc.Server {
	g := grpc.NewServer(
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 15 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	apiv1.RegisterGadgetryServer(g, s)
	return g
}

// Metrics is the /metrics handler.
func (s *Server) Metrics() http.Handler { return s.metrics }

// Serve serves gRPC on grpcL and /metrics on metricsL (nil: none) until ctx ends; then it
// stops every run gracefully (the clients get their summaries and an Unavailable status
// saying the daemon is shutting down) and returns.
func (s *Server) Serve(ctx context.Context, grpcL, metricsL net.Listener) error {
	g := s.GRPC()
	errc := make(chan error, 2)
	go func() { errc <- g.Serve(grpcL) }()
	var hs *http.Server
	if metricsL != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", s.Metrics())
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
		hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := hs.Serve(metricsL); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.Shutdown()
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		g.Stop()
	}
	if hs != nil {
		_ = hs.Close()
	}
	return err
}

// Shutdown stops every run gracefully and refuses new ones; it returns when they have ended.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.shutdown = true
	runs := make([]*serverRun, 0, len(s.runs))
	for r := range s.runs {
		runs = append(runs, r)
	}
	s.mu.Unlock()
	for _, r := range runs {
		r.requestStop(true)
	}
	s.wg.Wait()
}

// Runs returns the number of runs in progress.
func (s *Server) Runs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.runs)
}

// Info implements api/v1.
func (s *Server) Info(context.Context, *apiv1.InfoRequest) (*apiv1.InfoResponse, error) {
	var u unix.Utsname
	_ = unix.Uname(&u)
	return &apiv1.InfoResponse{Node: s.opts.Node, Version: s.opts.Version, ApiVersion: APIVersion,
		Kernel: unix.ByteSliceToString(u.Release[:]), Arch: goruntime.GOARCH, Runs: uint32(s.Runs()),
		Kubernetes: s.opts.Pods != nil}, nil
}

// Describe implements api/v1.
func (s *Server) Describe(ctx context.Context, req *apiv1.DescribeRequest) (*apiv1.DescribeResponse, error) {
	img, g, err := s.prepare(ctx, req.Image, req.Pull, nil)
	if err != nil {
		return nil, err
	}
	resp := &apiv1.DescribeResponse{Name: g.Name, ImageRef: img.Ref, Digest: digestOf(img),
		SelectsContainers: g.SelectsContainers(), BuiltIn: img.BuiltIn}
	if g.Meta != nil {
		resp.Description = g.Meta.Description
	}
	for _, p := range g.Params {
		resp.Params = append(resp.Params, &apiv1.Param{Key: p.Key, Default: p.Default, Description: p.Description,
			TypeName: p.TypeName(), IsBool: p.TypeName() == "bool"})
	}
	dss, _ := g.NewDataSources()
	for _, ds := range dss {
		d := &apiv1.DataSource{Name: ds.Name}
		for _, f := range ds.Fields() {
			if !f.Hidden {
				d.Fields = append(d.Fields, f.Name)
			}
		}
		resp.DataSources = append(resp.DataSources, d)
	}
	return resp, nil
}

func digestOf(img *oci.Gadget) string {
	if img.ManifestDigest != "" {
		return img.ManifestDigest
	}
	return img.Digest
}

// prepare resolves ref with the daemon's source and policy and parses it with a Runtime of
// its own (logging to log, nil: the daemon's log).
func (s *Server) prepare(ctx context.Context, ref, pull string, log *slog.Logger) (*oci.Gadget, *runtime.Gadget, error) {
	if ref == "" {
		return nil, nil, status.Error(codes.InvalidArgument, "no gadget given: name a built-in gadget or an image reference")
	}
	if strings.HasSuffix(ref, ".o") || strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "./") {
		return nil, nil, status.Errorf(codes.InvalidArgument, "%s is a file path: a node daemon runs images (a built-in gadget or a reference to a registry); push the gadget to a registry the nodes reach", ref)
	}
	pp := oci.PullMissing
	if pull != "" {
		var err error
		if pp, err = oci.ParsePullPolicy(pull); err != nil {
			return nil, nil, status.Errorf(codes.InvalidArgument, "--pull: %v", err)
		}
	}
	img, err := s.opts.Source.Resolve(ctx, ref, pp, goruntime.GOARCH)
	if errors.Is(err, oci.ErrUnverified) {
		// The node's policy: a client cannot turn it off, so the local hint does not apply.
		msg := strings.Replace(err.Error(), ", or pass --verify-image=false to use it unverified", "", 1)
		return nil, nil, status.Errorf(codes.PermissionDenied, "node %s: %s; the node daemon's trusted keys decide (its --public-keys): a client cannot turn verification off", s.opts.Node, msg)
	}
	if err != nil {
		return nil, nil, status.Errorf(codeOf(ctx, err), "node %s: %v", s.opts.Node, err)
	}
	if log == nil {
		log = s.opts.Logger
	}
	rt := runtime.New(runtime.Options{Logger: log, WASM: s.opts.WASM})
	g, err := rt.Prepare(ctx, img)
	if err != nil {
		return nil, nil, status.Errorf(codeOf(ctx, err), "node %s: %v", s.opts.Node, err)
	}
	return img, g, nil
}

// codeOf is the status code of an error: the client's when it is a usage error or the
// context ended, FailedPrecondition otherwise (the node cannot do it as things are).
func codeOf(ctx context.Context, err error) codes.Code {
	var u interface{ IsUsage() bool }
	switch {
	case ctx.Err() != nil:
		return codes.Canceled
	case errors.As(err, &u) && u.IsUsage():
		return codes.InvalidArgument
	case errors.Is(err, oci.ErrNotFound):
		return codes.NotFound
	}
	return codes.FailedPrecondition
}
