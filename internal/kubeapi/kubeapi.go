// Package kubeapi makes the few Kubernetes API calls Gadgetry's client and deployer make: get,
// list, server-side apply and delete of the objects of three API groups (core, apps, rbac), and
// the URL of a pod's port-forward.
//
// It stands in for client-go's typed clientset, whose package registers every API group of
// Kubernetes when the program starts: linked into the gadgetry binary, that registration alone
// made every command, `gadgetry run` on one host included, start with about 8 MiB more resident
// memory and a 15 MB larger binary (docs/RATIONALE.md, "One binary, and what it costs a local
// run"). Here only the three groups' types are registered, and only when a Client is made.
package kubeapi

import (
	"context"
	"encoding/json"
	"net/url"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// Resource is a kind of object the API serves: its group, version and plural name, and
// whether its objects live in a namespace.
type Resource struct {
	Group, Version, Name string
	Namespaced           bool
}

// The resources Gadgetry reads or writes.
var (
	Namespaces          = Resource{"", "v1", "namespaces", false}
	ServiceAccounts     = Resource{"", "v1", "serviceaccounts", true}
	Pods                = Resource{"", "v1", "pods", true}
	DaemonSets          = Resource{"apps", "v1", "daemonsets", true}
	ClusterRoles        = Resource{"rbac.authorization.k8s.io", "v1", "clusterroles", false}
	ClusterRoleBindings = Resource{"rbac.authorization.k8s.io", "v1", "clusterrolebindings", false}
)

func (r Resource) groupVersion() schema.GroupVersion {
	return schema.GroupVersion{Group: r.Group, Version: r.Version}
}

var (
	codecsOnce sync.Once
	codecs     serializer.CodecFactory
	codecsErr  error
)

// codecFactory registers the three groups' types (and the meta types, Status among them, that
// every group version serves) in a scheme of this package's own, once.
func codecFactory() (serializer.CodecFactory, error) {
	codecsOnce.Do(func() {
		s := runtime.NewScheme()
		for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, rbacv1.AddToScheme} {
			if err := add(s); err != nil {
				codecsErr = err
				return
			}
		}
		metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
		codecs = serializer.NewCodecFactory(s)
	})
	return codecs, codecsErr
}

// Client calls the API server of a rest.Config.
type Client struct {
	cfg *rest.Config
	mu  sync.Mutex
	by  map[schema.GroupVersion]*rest.RESTClient
}

// New returns a Client for cfg (nothing is sent until a call).
func New(cfg *rest.Config) (*Client, error) {
	if _, err := codecFactory(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, by: map[schema.GroupVersion]*rest.RESTClient{}}, nil
}

// rest returns the REST client of r's group version, made on first use.
func (c *Client) rest(r Resource) (*rest.RESTClient, error) {
	gv := r.groupVersion()
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc := c.by[gv]; rc != nil {
		return rc, nil
	}
	cf, err := codecFactory()
	if err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(c.cfg)
	cfg.GroupVersion = &gv
	cfg.APIPath = "/apis"
	if gv.Group == "" {
		cfg.APIPath = "/api"
	}
	cfg.NegotiatedSerializer = cf.WithoutConversion()
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, err
	}
	c.by[gv] = rc
	return rc, nil
}

// request starts a request of verb on r's object name (all of them when name is "") in
// namespace ns (ignored for resources outside namespaces; "" is every namespace).
func (c *Client) request(verb string, r Resource, ns, name string) (*rest.Request, error) {
	rc, err := c.rest(r)
	if err != nil {
		return nil, err
	}
	req := rc.Verb(verb).Resource(r.Name)
	if r.Namespaced {
		req = req.Namespace(ns)
	}
	if name != "" {
		req = req.Name(name)
	}
	return req, nil
}

// Get reads object name of r into obj.
func (c *Client) Get(ctx context.Context, r Resource, ns, name string, obj runtime.Object) error {
	req, err := c.request("GET", r, ns, name)
	if err != nil {
		return err
	}
	return req.Do(ctx).Into(obj)
}

// List reads the objects of r in ns that match labelSelector ("" for all) into list.
func (c *Client) List(ctx context.Context, r Resource, ns, labelSelector string, list runtime.Object) error {
	req, err := c.request("GET", r, ns, "")
	if err != nil {
		return err
	}
	if labelSelector != "" {
		req = req.Param("labelSelector", labelSelector)
	}
	return req.Do(ctx).Into(list)
}

// Apply creates or updates object name of r with server-side apply: data is the object as
// JSON; fieldManager owns the fields it sets, taking them over from other managers when force.
func (c *Client) Apply(ctx context.Context, r Resource, ns, name string, data []byte, fieldManager string, force bool) error {
	req, err := c.request("PATCH", r, ns, name)
	if err != nil {
		return err
	}
	req = req.SetHeader("Content-Type", string(types.ApplyPatchType)).Param("fieldManager", fieldManager).Body(data)
	if force {
		req = req.Param("force", "true")
	}
	return req.Do(ctx).Error()
}

// Delete deletes object name of r, its dependents with the propagation policy given.
func (c *Client) Delete(ctx context.Context, r Resource, ns, name string, propagation metav1.DeletionPropagation) error {
	req, err := c.request("DELETE", r, ns, name)
	if err != nil {
		return err
	}
	body, err := json.Marshal(&metav1.DeleteOptions{
		TypeMeta:          metav1.TypeMeta{Kind: "DeleteOptions", APIVersion: "v1"},
		PropagationPolicy: &propagation,
	})
	if err != nil {
		return err
	}
	return req.SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
}

// URL is the URL of sub, a subresource of object name of r ("portforward" of a pod).
func (c *Client) URL(r Resource, ns, name, sub string) (*url.URL, error) {
	req, err := c.request("POST", r, ns, name)
	if err != nil {
		return nil, err
	}
	return req.SubResource(sub).URL(), nil
}
