// Package daemon is the node daemon's server (`gadgetry daemon`): it serves the gRPC API of
// api/v1 and runs gadgets with the runtime library, one Runtime per run (so each run's
// warnings reach its own client), several runs at once.
//
// A run lives as long as its client's stream: the run's context is the stream's, so a client
// that goes away (its stream cancelled, the connection or the port-forward dropped) stops the
// run at once, and the runtime's teardown leaves nothing attached. A client's stop message ends
// it gracefully: the last records, then the summary.
//
// Records are printed on the node by the same output code as `gadgetry run` (Options.Output,
// given by the command), in the mode the client asked for, and sent as whole lines; each
// record gets k8s.node and, on a Kubernetes node, the pod's k8s.namespace, k8s.podName,
// k8s.containerName and k8s.podLabels (enrich.go). Pod selection (pods.go) reads the node's
// containers from its container runtime (CRI) and filters in the kernel through
// runtime.SelectionHooks. Metrics (metrics.go) are served in Prometheus' text format.
package daemon
