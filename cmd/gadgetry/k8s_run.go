package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/gadgetry/gadgetry/api/v1"
	"github.com/gadgetry/gadgetry/k8sclient"
	"github.com/gadgetry/gadgetry/runtime"
)

// kubectlPluginName is the name kubectl runs the plugin by (`kubectl gadgetry ...` execs
// kubectl-gadgetry on PATH): the gadgetry binary installed or linked under that name runs
// every `run` on the cluster, as `gadgetry run --k8s`.
const kubectlPluginName = "kubectl-gadgetry"

// k8sRunFlags are the flags of a run on Kubernetes, beside runFlags.
type k8sRunFlags struct {
	k8s           bool
	namespace     string
	allNamespaces bool
	pod           string
	selector      string
	nodes         []string
	kubeconfig    string
	kubeContext   string
	// daemons reaches daemons directly (host:port,...): alone without Kubernetes (tests, a
	// daemon run by hand), or beside the cluster's with --k8s or as the plugin (a daemon
	// outside the cluster joins the run).
	daemons []string
}

func (f *k8sRunFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.k8s, "k8s", false, "run on every node of the Kubernetes cluster of the kubeconfig, through the node daemons (gadgetry deploy); kubectl gadgetry does it always")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "with --k8s: only pods of this namespace (default: the kubeconfig context's)")
	fs.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "with --k8s: pods of every namespace")
	fs.StringVarP(&f.pod, "podname", "p", "", "with --k8s: only this pod")
	fs.StringVarP(&f.selector, "selector", "l", "", "with --k8s: only pods matching this label selector (app=web,tier!=db)")
	fs.StringSliceVar(&f.nodes, "node", nil, "with --k8s: only these nodes (default: every node)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "with --k8s: the kubeconfig file (default $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&f.kubeContext, "context", "", "with --k8s: the kubeconfig context (default: its current one)")
	fs.StringSliceVar(&f.daemons, "daemons", nil, "also run through node daemons reached directly at these host:port addresses (alone: without Kubernetes)")
	_ = fs.MarkHidden("daemons")
}

// k8sRunWanted reports whether `run` goes to the cluster: the binary runs as the kubectl
// plugin, or --k8s or --daemons is among the arguments.
func k8sRunWanted(args []string) bool {
	if filepath.Base(os.Args[0]) == kubectlPluginName {
		return true
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--k8s" || a == "--k8s=true" || a == "--daemons" || strings.HasPrefix(a, "--daemons=") {
			return true
		}
	}
	return false
}

// runK8s runs a gadget on the cluster's nodes: it finds the node daemons, reaches each by a
// port-forward, asks one to describe the gadget (its parameters become flags), starts the run
// on all of them and prints their records as one stream, in the local run's format, each with
// k8s.node. A node that fails is a warning; the others go on. The first SIGINT or SIGTERM
// stops the run on every node (their last records and summaries arrive), a second exits at
// once (the daemons then stop their runs as the streams drop).
func runK8s(cmd *cobra.Command, args []string) error {
	var rf runFlags
	var kf k8sRunFlags
	pre := pflag.NewFlagSet("run", pflag.ContinueOnError)
	pre.ParseErrorsAllowlist.UnknownFlags = true
	pre.SetOutput(io.Discard)
	rf.register(pre)
	kf.register(pre)
	_ = pre.Parse(args)
	ref := ""
	if pre.NArg() > 0 {
		ref = pre.Arg(0)
	}
	newFlagSet := func() *pflag.FlagSet {
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		return fs
	}
	stdout, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if ref == "" {
		if rf.help {
			fs := newFlagSet()
			new(runFlags).register(fs)
			new(k8sRunFlags).register(fs)
			printK8sRunHelp(stdout, fs, nil, nil)
			return nil
		}
		return usagef("run: missing REF; e.g. `kubectl gadgetry run trace_exec -n NAMESPACE` (see --help)")
	}
	mode, wide, timeout, pull, err := rf.check()
	if err != nil {
		return err
	}
	if kf.allNamespaces && kf.namespace != "" {
		return usagef("-n and -A: give one (a namespace, or all of them)")
	}
	if len(rf.runcRoots) > 0 {
		return usagef("--runc-root: the node daemons learn the containers from their container runtime (gadgetry daemon --runc-root on the nodes)")
	}
	note := func(msg string) {
		if !rf.quiet {
			fmt.Fprintln(errw, "note: "+msg)
		}
	}
	sigs, sigCtx := watchSignals(errw)
	defer sigs.done()
	// The streams live until the nodes have sent their summaries: a signal stops the run
	// gracefully (Stop), it does not drop the streams.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nodes, cfgNS, err := k8sNodes(sigCtx, kf, errw)
	if err != nil {
		return interruptedOr(sigs, err)
	}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	desc, err := nodes[0].Client().Describe(sigCtx, &apiv1.DescribeRequest{Image: ref, Pull: string(pull)})
	if err != nil {
		if sig := sigs.signalled(); sig != 0 {
			return interrupted{sig}
		}
		if status.Code(err) == codes.InvalidArgument {
			return usagef("%s", k8sclient.Message(err))
		}
		return errors.New(k8sclient.Message(err))
	}
	fs := newFlagSet()
	var final runFlags
	var fk k8sRunFlags
	final.register(fs)
	fk.register(fs)
	values := map[string]*string{}
	pfs := pflag.NewFlagSet("params", pflag.ContinueOnError)
	for _, p := range desc.Params {
		if fs.Lookup(p.Key) != nil {
			return fmt.Errorf("gadget %s: parameter %q clashes with the run flag --%s; give it another key in gadget.yaml", desc.Name, p.Key, p.Key)
		}
		d := p.Description
		if d == "" {
			d = "parameter " + p.Key
		}
		values[p.Key] = pfs.String(p.Key, p.Default, d+" ("+p.TypeName+")")
		if p.IsBool {
			pfs.Lookup(p.Key).NoOptDefVal = "true"
		}
	}
	fs.AddFlagSet(pfs)
	if err := fs.Parse(args); err != nil {
		return usagef("gadget %s: %w (see `kubectl gadgetry run %s --help`)", desc.Name, err, ref)
	}
	if final.help {
		printK8sRunHelp(stdout, fs, desc, pfs)
		return nil
	}
	if fs.NArg() > 1 {
		return usagef("run: unexpected arguments %q after REF", fs.Args()[1:])
	}
	params := map[string]string{}
	for key, v := range values {
		if fs.Changed(key) {
			params[key] = *v
		}
	}
	sel := &apiv1.Selection{Pod: kf.pod, LabelSelector: kf.selector, Containers: final.containerNames, AllNamespaces: kf.allNamespaces}
	switch {
	case kf.namespace != "":
		sel.Namespaces = []string{kf.namespace}
	case !kf.allNamespaces && cfgNS != "":
		sel.Namespaces = []string{cfgNS}
	}
	if !desc.SelectsContainers {
		if kf.namespace != "" || kf.allNamespaces || kf.pod != "" || kf.selector != "" || final.containerNames != "" {
			return usagef("gadget %s records no mount namespace (no field of type gadget_mntns_id) and does not ask for the containers data source (annotation enable-containers-datasource: true): it cannot select pods or containers; run it without -n, -A, -p, -l and -c (it sees the whole node)", desc.Name)
		}
		sel = &apiv1.Selection{}
	}
	req := &apiv1.RunRequest{Image: ref, Params: params, Selection: sel, Pull: string(pull),
		TimeoutMs: uint64(timeout / time.Millisecond), WasmMemoryLimitMib: final.wasmMemoryLimit,
		Output: &apiv1.OutputOptions{Mode: string(mode), Fields: final.fields, Filters: final.filters,
			Width: uint32(tableWidth(stdout, wide))}}
	h := &mergedOutput{w: stdout, errw: errw, quiet: rf.quiet, summaries: map[string]*apiv1.Summary{}, failed: map[string]error{}}
	if len(nodes) > 1 {
		note(fmt.Sprintf("running %s on %d nodes: %s", desc.Name, len(nodes), nodeNames(nodes)))
	}
	run := k8sclient.Start(ctx, nodes, req, h)
	sigs.onForcedExit(func() { h.writeSummary(final.summary, final.summaryFile, true) })
	ended := make(chan struct{})
	go func() { run.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-sigCtx.Done():
		run.Stop()
		select {
		case <-ended:
		case <-time.After(30 * time.Second): // a hang guard: a node that never answers the stop
			fmt.Fprintln(errw, "warning: some nodes did not end the run within 30s of the stop; leaving them (their daemons stop the run when the connection drops)")
			cancel()
			<-ended
		}
	}
	sigs.done()
	h.writeSummary(final.summary, final.summaryFile, false)
	if sig := sigs.signalled(); sig != 0 {
		return interrupted{sig}
	}
	return h.result(len(nodes))
}

// k8sNodes connects to the node daemons: those of --daemons directly, and, with --k8s, as the
// kubectl plugin or without --daemons, those of the cluster through port-forwards. A daemon
// that cannot be reached is a warning, unless none can. It also returns the kubeconfig
// context's namespace ("" without the cluster).
func k8sNodes(ctx context.Context, kf k8sRunFlags, errw io.Writer) ([]*k8sclient.Node, string, error) {
	type result struct {
		n   *k8sclient.Node
		err error
	}
	var dial []func() (*k8sclient.Node, error)
	ns := ""
	for _, a := range kf.daemons {
		dial = append(dial, func() (*k8sclient.Node, error) { return k8sclient.Dial(a, a) })
	}
	if len(kf.daemons) == 0 || kf.k8s || filepath.Base(os.Args[0]) == kubectlPluginName {
		cfg, err := k8sclient.LoadConfig(kf.kubeconfig, kf.kubeContext)
		if err != nil {
			return nil, "", err
		}
		ns = cfg.Namespace
		pods, err := k8sclient.DaemonPods(ctx, cfg, kf.nodes)
		if err != nil {
			return nil, "", err
		}
		for _, p := range pods {
			if !p.Ready {
				fmt.Fprintf(errw, "warning: node %s: its daemon (pod %s/%s) is not ready (%s): left out\n", p.Node, k8sclient.DaemonNamespace, p.Pod, p.Reason)
				continue
			}
			dial = append(dial, func() (*k8sclient.Node, error) { return k8sclient.DialPod(ctx, cfg, p) })
		}
	}
	results := make([]result, len(dial))
	var wg sync.WaitGroup
	for i, d := range dial {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := d()
			if err == nil {
				if _, err = n.Info(ctx); err != nil {
					n.Close()
					err = fmt.Errorf("node %s: %w", n.Name, err)
				}
			}
			results[i] = result{n, err}
		}()
	}
	wg.Wait()
	var nodes []*k8sclient.Node
	var errs []string
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err.Error())
			continue
		}
		nodes = append(nodes, r.n)
	}
	if len(nodes) == 0 {
		if len(errs) == 0 {
			return nil, "", errors.New("no node daemon is ready (kubectl get pods -n gadgetry)")
		}
		return nil, "", fmt.Errorf("no node daemon could be reached: %s", strings.Join(errs, "; "))
	}
	for _, e := range errs {
		fmt.Fprintf(errw, "warning: %s: left out\n", e)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	return nodes, ns, nil
}

func nodeNames(nodes []*k8sclient.Node) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return strings.Join(names, ", ")
}

func printK8sRunHelp(w io.Writer, fs *pflag.FlagSet, desc *apiv1.DescribeResponse, params *pflag.FlagSet) {
	fmt.Fprintln(w, `Run a gadget on the nodes of a Kubernetes cluster and stream their events as one.

The node daemons (gadgetry deploy) run it; this client reaches each through the API server
(a port-forward to its pod), so whoever may port-forward to pods of namespace gadgetry may run
gadgets (docs/kubernetes.md). Pods are selected with -n (default: the kubeconfig context's
namespace), -A, -p, -l and -c, in the kernel of each node; pods that start during the run are
picked up. Every event carries k8s.node, k8s.namespace, k8s.podName, k8s.containerName and
k8s.podLabels. A node whose daemon fails is a warning; the others go on. Ctrl-C stops the run
on every node.

Usage:
  kubectl gadgetry run REF [flags]
  gadgetry run REF --k8s [flags]

Flags:`)
	if params != nil {
		fs = pflag.NewFlagSet("run", pflag.ContinueOnError)
		new(runFlags).register(fs)
		new(k8sRunFlags).register(fs)
	}
	fmt.Fprint(w, fs.FlagUsages())
	if desc == nil {
		printGadgetHelp(w, params, "", "", nil)
		return
	}
	var sources []gadgetHelpSource
	for _, ds := range desc.DataSources {
		sources = append(sources, gadgetHelpSource{name: ds.Name, fields: ds.Fields})
	}
	printGadgetHelp(w, params, desc.Name, desc.Description, sources)
}

// mergedOutput prints the records of every node as one stream: the tables' header once (the
// first node's), then each node's lines as they come, whole lines at a time; warnings,
// notes and losses on stderr, each naming its node.
type mergedOutput struct {
	w, errw io.Writer
	quiet   bool

	mu        sync.Mutex
	header    bool
	summaries map[string]*apiv1.Summary
	failed    map[string]error
	writeErr  error
}

func (m *mergedOutput) Started(node string, s *apiv1.Started) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.header {
		m.header = true
		m.write(s.Header)
	}
}

func (m *mergedOutput) Output(_ string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(data)
}

func (m *mergedOutput) write(b []byte) {
	if len(b) == 0 || m.writeErr != nil {
		return
	}
	if _, err := m.w.Write(b); err != nil {
		m.writeErr = fmt.Errorf("writing output: %w", err)
	}
}

func (m *mergedOutput) Warning(node string, w *apiv1.Warning) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case w.Note && m.quiet:
	case w.Note:
		fmt.Fprintf(m.errw, "note: node %s: %s\n", node, w.Text)
	default:
		fmt.Fprintf(m.errw, "warning: node %s: %s\n", node, w.Text)
	}
}

func (m *mergedOutput) Lost(node string, l *apiv1.Lost) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(m.errw, "warning: node %s: %d records of %s lost (ring buffer full; %d so far)\n", node, l.Newly, l.DataSource, l.Total)
}

func (m *mergedOutput) Ended(node string, s *apiv1.Summary, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s != nil {
		m.summaries[node] = s
	}
	if err != nil {
		m.failed[node] = err
		fmt.Fprintf(m.errw, "warning: node %s: the run ended there: %v\n", node, err)
	}
}

// k8sSummary is the summary of a run on several nodes (--summary json, --summary-file): each
// node's as `gadgetry run` writes it, and why a node failed.
type k8sSummary struct {
	Nodes  map[string]runtime.Summary `json:"nodes"`
	Failed map[string]string          `json:"failed,omitempty"`
}

func (m *mergedOutput) summary() k8sSummary {
	out := k8sSummary{Nodes: map[string]runtime.Summary{}}
	for node, s := range m.summaries {
		rs := runtime.Summary{DataSources: map[string]*runtime.Counts{}, SkippedPrograms: s.SkippedPrograms, Choices: s.Choices}
		for n, c := range s.DataSources {
			rs.DataSources[n] = &runtime.Counts{Events: c.Events, Lost: c.Lost, Dropped: c.Dropped, Unread: c.Unread}
		}
		out.Nodes[node] = rs
	}
	for node, err := range m.failed {
		if out.Failed == nil {
			out.Failed = map[string]string{}
		}
		out.Failed[node] = err.Error()
	}
	return out
}

// writeSummary writes the summary as --summary says (text: a line per node that lost or
// dropped records; json: the object) and to --summary-file. now: a forced exit, the text
// says every node's counts.
func (m *mergedOutput) writeSummary(mode, file string, now bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.summary()
	b, err := json.Marshal(s)
	if err != nil {
		return
	}
	if file != "" {
		if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(m.errw, "warning: writing the summary to %s: %v\n", file, err)
		}
	}
	switch mode {
	case "json":
		fmt.Fprintf(m.errw, "%s\n", b)
	case "text":
		names := make([]string, 0, len(s.Nodes))
		for n := range s.Nodes {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if now || hasLosses(s.Nodes[n]) {
				fmt.Fprintf(m.errw, "summary: node %s: %s\n", n, summaryText(s.Nodes[n]))
			}
		}
	}
}

// result is the run's outcome: an error when the output could not be written, when a node
// refused the command line (a usage error), or when the run failed on every node.
func (m *mergedOutput) result(nodes int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.writeErr != nil {
		return m.writeErr
	}
	for _, err := range m.failed {
		var ce *k8sclient.CallError
		if errors.As(err, &ce) && ce.Code == codes.InvalidArgument && len(m.failed) == nodes {
			return usage(errors.New(ce.Msg))
		}
	}
	if len(m.failed) == nodes {
		if nodes == 1 {
			for node, err := range m.failed {
				return fmt.Errorf("node %s: %v", node, err)
			}
		}
		return fmt.Errorf("the run failed on every node (%d; see the warnings above)", nodes)
	}
	return nil
}
