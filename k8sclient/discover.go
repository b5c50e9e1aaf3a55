package k8sclient

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gadgetry/gadgetry/internal/kubeapi"
)

// Where the node daemons are: the contract with `gadgetry deploy` (package deploy).
const (
	DaemonNamespace = "gadgetry"
	DaemonSelector  = "app.kubernetes.io/name=gadgetry"
	DaemonContainer = "daemon"
	DaemonPort      = 7777
)

// Config is the user's kubeconfig, as kubectl reads it: $KUBECONFIG or ~/.kube/config, or
// path when given; context picks a context other than the current one.
type Config struct {
	Rest *rest.Config
	// Namespace is the context's namespace ("default" when it names none).
	Namespace string
}

// LoadConfig reads the kubeconfig.
func LoadConfig(path, context string) (*Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config): %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil || ns == "" {
		ns = "default"
	}
	return &Config{Rest: rc, Namespace: ns}, nil
}

// DaemonPod is one node's daemon pod.
type DaemonPod struct {
	Node, Pod string
	// Ready is the pod's Ready condition; Reason says why not.
	Ready  bool
	Reason string
}

// DaemonPods lists the daemon pods, one per node, of the nodes asked for (all when nodes is
// empty), sorted by node. A node asked for that runs no daemon is an error naming the nodes
// that do.
func DaemonPods(ctx context.Context, cfg *Config, nodes []string) ([]DaemonPod, error) {
	c, err := kubeapi.New(cfg.Rest)
	if err != nil {
		return nil, err
	}
	list := &corev1.PodList{}
	if err := c.List(ctx, kubeapi.Pods, DaemonNamespace, DaemonSelector, list); err != nil {
		return nil, fmt.Errorf("listing the node daemons (pods %s in namespace %s): %w; is Gadgetry deployed (gadgetry deploy)?", DaemonSelector, DaemonNamespace, err)
	}
	byNode := map[string]DaemonPod{}
	for i := range list.Items {
		p := &list.Items[i]
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil {
			continue
		}
		d := DaemonPod{Node: p.Spec.NodeName, Pod: p.Name}
		d.Ready, d.Reason = podReady(p)
		if old, ok := byNode[d.Node]; ok && old.Ready && !d.Ready {
			continue // a rolling update: keep the ready one
		}
		byNode[d.Node] = d
	}
	if len(byNode) == 0 {
		return nil, fmt.Errorf("no node daemon runs (no pod %s in namespace %s): deploy Gadgetry first (gadgetry deploy)", DaemonSelector, DaemonNamespace)
	}
	all := make([]string, 0, len(byNode))
	for n := range byNode {
		all = append(all, n)
	}
	sort.Strings(all)
	var out []DaemonPod
	if len(nodes) == 0 {
		for _, n := range all {
			out = append(out, byNode[n])
		}
		return out, nil
	}
	for _, n := range nodes {
		d, ok := byNode[n]
		if !ok {
			return nil, fmt.Errorf("--node %s: no node daemon runs there (daemons run on %s)", n, strings.Join(all, ", "))
		}
		if !slices.ContainsFunc(out, func(o DaemonPod) bool { return o.Node == n }) {
			out = append(out, d)
		}
	}
	return out, nil
}

func podReady(p *corev1.Pod) (bool, string) {
	if p.Status.Phase != corev1.PodRunning {
		return false, "pod " + string(p.Status.Phase)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			if c.Status == corev1.ConditionTrue {
				return true, ""
			}
			return false, "pod not ready: " + c.Message
		}
	}
	return false, "pod not ready"
}
