package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gadgetry/gadgetry/internal/kubeapi"
)

// pollInterval is how often Wait and Delete look at the cluster.
const pollInterval = 500 * time.Millisecond

// RESTConfig loads the user's kubeconfig as kubectl does: kubeconfig (a path) when set, else
// $KUBECONFIG, else ~/.kube/config; context overrides the current context when set.
func RESTConfig(kubeconfig, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, errors.New("no Kubernetes cluster configured: set KUBECONFIG or --kubeconfig, or create ~/.kube/config")
		}
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	cfg.UserAgent = "gadgetry"
	return cfg, nil
}

// Ref names an object as kubectl does: "daemonset.apps/gadgetry".
func Ref(obj runtime.Object) string {
	gvk := obj.GetObjectKind().GroupVersionKind()
	kind := strings.ToLower(gvk.Kind)
	if gvk.Group != "" {
		kind += "." + gvk.Group
	}
	m, _ := obj.(metav1.Object)
	return kind + "/" + m.GetName()
}

// Apply creates or updates every object with server-side apply (field manager
// FieldManager, taking over fields others set), reporting each one to progress.
func Apply(ctx context.Context, cs *kubeapi.Client, o *Objects, progress func(string)) error {
	for _, obj := range o.List() {
		data, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		err = fmt.Errorf("no client for %T", obj)
		for _, d := range deployed {
			if d.ref == Ref(obj) {
				err = cs.Apply(ctx, d.r, d.ns, obj.(metav1.Object).GetName(), data, FieldManager, true)
			}
		}
		if err != nil {
			return fmt.Errorf("applying %s: %w", Ref(obj), explainAPI(err))
		}
		progress(Ref(obj) + " applied")
	}
	return nil
}

// Wait waits until the DaemonSet's current generation runs on every node it should and all
// its pods are Ready, reporting changes to progress. When ctx ends first, the error wraps
// ErrNotReady and says, pod by pod, what each one waits for.
func Wait(ctx context.Context, cs *kubeapi.Client, progress func(string)) error {
	last := ""
	for {
		ds := &appsv1.DaemonSet{}
		err := cs.Get(ctx, kubeapi.DaemonSets, Namespace, Name, ds)
		if err != nil {
			if ctx.Err() != nil {
				return notReady(cs, ctx.Err())
			}
			return fmt.Errorf("reading daemonset %s/%s: %w", Namespace, Name, explainAPI(err))
		}
		st := ds.Status
		done := st.ObservedGeneration >= ds.Generation && st.DesiredNumberScheduled > 0 &&
			st.UpdatedNumberScheduled == st.DesiredNumberScheduled &&
			st.NumberReady == st.DesiredNumberScheduled && st.NumberAvailable == st.DesiredNumberScheduled
		msg := fmt.Sprintf("daemonset %s/%s: %d of %d pods Ready", Namespace, Name, st.NumberReady, st.DesiredNumberScheduled)
		if msg != last {
			progress(msg)
			last = msg
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return notReady(cs, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// notReady is Wait's error once its context has ended (cause): the DaemonSet's counts and,
// pod by pod, what each waits for, read afresh.
func notReady(cs *kubeapi.Client, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ds := &appsv1.DaemonSet{}
	if err := cs.Get(ctx, kubeapi.DaemonSets, Namespace, Name, ds); err != nil {
		return fmt.Errorf("%w when the wait ended (%v); reading daemonset %s/%s: %v", ErrNotReady, cause, Namespace, Name, explainAPI(err))
	}
	st := ds.Status
	why := podTrouble(ctx, cs)
	if st.DesiredNumberScheduled == 0 && st.ObservedGeneration >= ds.Generation {
		why = append(why, "no node can run the daemon's pod (every node is linux? tainted nodes are tolerated)")
	}
	return fmt.Errorf("%w (%d of %d) when the wait ended (%v):\n  %s", ErrNotReady, st.NumberReady, st.DesiredNumberScheduled, cause, strings.Join(why, "\n  "))
}

// podTrouble says why each of the daemon's pods that is not Ready is not.
func podTrouble(ctx context.Context, cs *kubeapi.Client) []string {
	pods := &corev1.PodList{}
	if err := cs.List(ctx, kubeapi.Pods, Namespace, PodSelector, pods); err != nil {
		return []string{"listing the pods: " + explainAPI(err).Error()}
	}
	var out []string
	for _, p := range pods.Items {
		if podReady(&p) {
			continue
		}
		where := p.Spec.NodeName
		if where == "" {
			where = "no node yet"
		}
		var reasons []string
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
				reasons = append(reasons, fmt.Sprintf("not scheduled: %s", c.Message))
			}
		}
		for _, c := range p.Status.ContainerStatuses {
			if w := c.State.Waiting; w != nil {
				r := w.Reason
				if w.Message != "" {
					r += ": " + w.Message
				}
				if t := c.LastTerminationState.Terminated; t != nil {
					r += fmt.Sprintf(" (last exit %d, %s", t.ExitCode, t.Reason)
					if t.Message != "" {
						r += ": " + strings.TrimSpace(t.Message)
					}
					r += "; kubectl logs -n " + Namespace + " " + p.Name + " --previous)"
				}
				reasons = append(reasons, r)
				if w.Reason == "ErrImageNeverPull" || strings.Contains(w.Reason, "ImagePull") || w.Reason == "InvalidImageName" {
					reasons = append(reasons, "the node cannot get the image "+c.Image+": push it to a registry the nodes reach and pass --image, or load it on every node")
				}
			} else if c.State.Running != nil && !c.Ready {
				reasons = append(reasons, "running but not Ready yet (its readiness probe: the metrics port accepting connections)")
			}
		}
		if len(reasons) == 0 {
			reasons = append(reasons, string(p.Status.Phase))
		}
		out = append(out, fmt.Sprintf("pod %s on %s: %s", p.Name, where, strings.Join(reasons, "; ")))
	}
	sort.Strings(out)
	if len(out) == 0 {
		out = append(out, "no pod of the DaemonSet is listed yet")
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// deployed are the deployment's objects in the order Delete removes them (the DaemonSet, so
// its pods, first; the namespace last).
var deployed = []struct {
	ref      string // as kubectl names it
	r        kubeapi.Resource
	ns, name string
	empty    func() runtime.Object // what Get reads it into
}{
	{"daemonset.apps/" + Name, kubeapi.DaemonSets, Namespace, Name, func() runtime.Object { return &appsv1.DaemonSet{} }},
	{"clusterrolebinding.rbac.authorization.k8s.io/" + Name, kubeapi.ClusterRoleBindings, "", Name, func() runtime.Object { return &rbacv1.ClusterRoleBinding{} }},
	{"clusterrole.rbac.authorization.k8s.io/" + Name, kubeapi.ClusterRoles, "", Name, func() runtime.Object { return &rbacv1.ClusterRole{} }},
	{"serviceaccount/" + Name, kubeapi.ServiceAccounts, Namespace, Name, func() runtime.Object { return &corev1.ServiceAccount{} }},
	{"namespace/" + Namespace, kubeapi.Namespaces, "", Namespace, func() runtime.Object { return &corev1.Namespace{} }},
}

// Delete removes the deployment's objects (the DaemonSet's pods with it), reporting each to
// progress; objects already gone are skipped. With wait, it returns once the namespace and
// every object are gone (the daemon's pods have stopped), or when ctx ends.
func Delete(ctx context.Context, cs *kubeapi.Client, wait bool, progress func(string)) error {
	fg := metav1.DeletePropagationForeground
	deleted := 0
	for _, d := range deployed {
		err := cs.Delete(ctx, d.r, d.ns, d.name, fg)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("deleting %s: %w", d.ref, explainAPI(err))
		}
		deleted++
		progress(d.ref + " deleted")
	}
	if deleted == 0 {
		progress("nothing to remove: Gadgetry is not deployed")
	}
	if !wait {
		return nil
	}
	for {
		left, err := Remaining(ctx, cs)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still there when the wait ended (%v): %s", ctx.Err(), strings.Join(left, ", "))
		case <-time.After(pollInterval):
		}
	}
}

// Remaining lists what of the deployment is still in the cluster: its objects and the
// daemon's pods (in any namespace, by label).
func Remaining(ctx context.Context, cs *kubeapi.Client) ([]string, error) {
	var left []string
	check := func(ref string, err error) error {
		switch {
		case err == nil:
			left = append(left, ref)
		case apierrors.IsNotFound(err):
		default:
			return fmt.Errorf("reading %s: %w", ref, explainAPI(err))
		}
		return nil
	}
	for _, o := range deployed {
		if err := check(o.ref, cs.Get(ctx, o.r, o.ns, o.name, o.empty())); err != nil {
			return nil, err
		}
	}
	pods := &corev1.PodList{}
	if err := cs.List(ctx, kubeapi.Pods, "", PodSelector, pods); err != nil {
		return nil, fmt.Errorf("listing the daemon's pods: %w", explainAPI(err))
	}
	for _, p := range pods.Items {
		left = append(left, "pod/"+p.Namespace+"/"+p.Name)
	}
	return left, nil
}

// explainAPI adds what to do to the API errors a user can fix.
func explainAPI(err error) error {
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%w (deploying needs the right to create namespaces, cluster roles and bindings, service accounts and daemonsets: a cluster administrator's)", err)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("%w (the kubeconfig's credentials were refused)", err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%w (the API server of the kubeconfig's current context does not answer: is the cluster up, is it the right context? --kubeconfig, --context)", err)
	}
	return err
}
