package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	apiv1 "github.com/gadgetry/gadgetry/api/v1"
	"github.com/gadgetry/gadgetry/daemon"
	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/runtime"
	"github.com/gadgetry/gadgetry/runtime/containers"
	"github.com/gadgetry/gadgetry/runtime/output"
	"github.com/gadgetry/gadgetry/runtime/wasm"
)

const daemonUsage = `Serve gadget runs on this node over gRPC (the API of api/v1/gadgetry.proto).

The node daemon of a Kubernetes deployment (gadgetry deploy runs one per node): ` + "`kubectl gadgetry run`" + `
reaches it through the API server (a port-forward to --grpc-listen in its pod) and fans a run out
to every node. Each run is cancelled when its client goes away. Images are pulled with the
daemon's registry credentials (--authfile, or $DOCKER_CONFIG: mount a Secret) and verified with
its trusted keys (--public-keys, $GADGETRY_PUBLIC_KEYS or the config file): a client cannot turn
verification off. Pods are selected through the node's container runtime (--runtime-socket).
Prometheus metrics are served at /metrics on --metrics-listen.`

type daemonFlags struct {
	grpcListen    string
	metricsListen string
	nodeName      string
	runtimeSocket string
	runcRoots     []string
}

func newDaemonCmd() *cobra.Command {
	var f daemonFlags
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Serve gadget runs on this node over gRPC (the node daemon of gadgetry deploy)",
		Long:  daemonUsage,
		Args:  cobra.NoArgs,
	}
	fs := cmd.Flags()
	fs.StringVar(&f.grpcListen, "grpc-listen", "127.0.0.1:7777", "address to serve the gRPC API on (port 0: any free port, said on stderr)")
	fs.StringVar(&f.metricsListen, "metrics-listen", ":9090", "address to serve Prometheus metrics on, at /metrics (empty: none)")
	fs.StringVar(&f.nodeName, "node-name", "", "the node's name, in every event as k8s.node (default $NODE_NAME, else the host name)")
	defSocket := os.Getenv("GADGETRY_RUNTIME_SOCKET")
	if defSocket == "" {
		defSocket = "/run/containerd/containerd.sock"
	}
	fs.StringVar(&f.runtimeSocket, "runtime-socket", defSocket, "the container runtime's CRI socket, to select pods (default $GADGETRY_RUNTIME_SOCKET, else containerd's); without it only -c selects, by container name")
	fs.StringSliceVar(&f.runcRoots, "runc-root", nil, "extra runc state roots (runc --root) to learn container names from")
	ociF := bindOCIFlags(fs)
	trustF := bindTrustFlags(fs)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runDaemon(cmd, f, ociF, trustF)
	}
	return cmd
}

func runDaemon(cmd *cobra.Command, f daemonFlags, ociF *ociFlags, trustF *trustFlags) error {
	errw := cmd.ErrOrStderr()
	if err := runtime.CheckPrivileges(); err != nil {
		return err
	}
	node := f.nodeName
	if node == "" {
		node = os.Getenv("NODE_NAME")
	}
	if node == "" {
		node, _ = os.Hostname()
	}
	logger := slog.New(slog.NewTextHandler(errw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	trust, err := trustF.load()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	engine, err := wasm.NewEngine(wasm.DefaultCacheDir())
	if err != nil {
		return fmt.Errorf("starting the WASM engine: %w", err)
	}
	defer engine.Close()
	cache, err := containers.New(ctx, containers.Options{RuncRoots: f.runcRoots,
		Logf: func(format string, a ...any) { logger.Debug(fmt.Sprintf(format, a...)) }})
	if err != nil {
		return err
	}
	defer cache.Close()
	var pods *daemon.Pods
	if f.runtimeSocket != "" {
		pods, err = daemon.NewPods(ctx, daemon.PodsOptions{Socket: f.runtimeSocket,
			Logf: func(format string, a ...any) { logger.Warn(fmt.Sprintf(format, a...)) }})
		if err != nil {
			logger.Warn("pods cannot be selected on this node (only containers by name, -c): " + err.Error())
			pods = nil
		} else {
			defer pods.Close()
		}
	}
	gl, err := net.Listen("tcp", f.grpcListen)
	if err != nil {
		return fmt.Errorf("--grpc-listen %s: %w", f.grpcListen, err)
	}
	var ml net.Listener
	if f.metricsListen != "" {
		if ml, err = net.Listen("tcp", f.metricsListen); err != nil {
			gl.Close()
			return fmt.Errorf("--metrics-listen %s: %w", f.metricsListen, err)
		}
	}
	srv := daemon.New(daemon.Options{
		Node:       node,
		Version:    gadgetryVersion(),
		Source:     runSource(ociF, trust.keys, nil),
		Unverified: func(img *oci.Gadget) string { return unverifiedText(trust, img) },
		WASM:       engine,
		Containers: cache,
		Pods:       pods,
		Output:     daemonOutput,
		Logger:     logger,
	})
	metrics := "none"
	if ml != nil {
		metrics = "http://" + ml.Addr().String() + "/metrics"
	}
	fmt.Fprintf(errw, "gadgetry daemon: node %s: gRPC on %s, metrics on %s, pods %s, %s, registry credentials %s\n",
		node, gl.Addr(), metrics, podsState(pods, f.runtimeSocket), trustState(trust), credentialsState(ociF.authFile))
	err = srv.Serve(ctx, gl, ml)
	fmt.Fprintf(errw, "gadgetry daemon: node %s: stopped\n", node)
	return err
}

func podsState(p *daemon.Pods, socket string) string {
	if p == nil {
		return "not selectable (no container runtime)"
	}
	return "from " + socket
}

// unverifiedText is the warning `gadgetry run` prints for an image used without a verified
// signature, for the daemon's client ("" when there is none).
func unverifiedText(t *trust, img *oci.Gadget) string {
	if img.Signature != nil {
		return ""
	}
	var b strings.Builder
	t.warnUnverified(&b, img.Ref, img.Pulled)
	return strings.TrimPrefix(strings.TrimSpace(b.String()), "warning: ")
}

// daemonOutput prints a daemon run's records with the output code of `gadgetry run`.
func daemonOutput(opts *apiv1.OutputOptions, w io.Writer) (daemon.Output, error) {
	modeName := opts.GetMode()
	if modeName == "" {
		modeName = string(output.Columns)
	}
	mode, err := output.ParseMode(modeName)
	if err != nil {
		return nil, usagef("-o %q: want columns, json, jsonpretty or yaml", modeName)
	}
	return &cliDaemonOutput{o: &cliOutput{mode: mode, fieldSpec: opts.GetFields(), filters: opts.GetFilters(),
		w: w, errw: io.Discard, width: int(opts.GetWidth()), summaryMode: "none"}}, nil
}

type cliDaemonOutput struct{ o *cliOutput }

func (d *cliDaemonOutput) Hooks() runtime.Hooks { return runtime.Hooks{Name: "output", Init: d.o.init} }

func (d *cliDaemonOutput) Header() { d.o.headers() }

func (d *cliDaemonOutput) Flush() error {
	d.o.flush()
	d.o.mu.Lock()
	defer d.o.mu.Unlock()
	return d.o.err
}

// trustState says what the daemon verifies images with, for its start-up line.
func trustState(t *trust) string {
	switch {
	case t.off:
		return "image verification off"
	case len(t.keys) == 0:
		return "no trusted keys (images run unverified)"
	case len(t.keys) == 1:
		return "1 trusted key"
	}
	return fmt.Sprintf("%d trusted keys", len(t.keys))
}

// credentialsState names the Docker config file the daemon's pulls read and whether it
// exists, for its start-up line.
func credentialsState(authFile string) string {
	file := (&oci.Registry{AuthFile: authFile}).CredentialsFile()
	if _, err := os.Stat(file); err != nil {
		return "none (" + file + " absent)"
	}
	return "from " + file
}
