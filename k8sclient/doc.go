// Package k8sclient is the client half of Gadgetry on Kubernetes: it finds the node daemons
// (the pods of namespace gadgetry labelled app.kubernetes.io/name=gadgetry, container daemon),
// reaches each one's gRPC port through the API server with a port-forward (as kubectl
// port-forward does: WebSocket, falling back to SPDY), runs a gadget on all of them at once and
// hands their messages, tagged with the node, to one Handler (fanout.go). A node whose daemon
// fails or goes away ends with an error; the others go on.
package k8sclient
