// Package deploy holds Gadgetry's Kubernetes deployment and applies it: the namespace
// gadgetry, the ServiceAccount, ClusterRole and ClusterRoleBinding of the node daemon, and its
// DaemonSet. The manifests are the kustomize base in kustomize/ (embedded): `gadgetry deploy`
// and `kubectl apply -k deploy/kustomize` create the same objects; Options change the image,
// its pull policy, the container runtime's socket, and mount the daemon's registry
// credentials and trusted keys.
//
// What the client relies on (the contract with the daemon and `kubectl gadgetry`): the pods
// run in Namespace, carry Label=Name, their container is named Container and runs
// `gadgetry daemon --grpc-listen 127.0.0.1:GRPCPort --metrics-listen :MetricsPort
// --node-name $(NODE_NAME)`; the metrics port is named MetricsPortName.
package deploy

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// The names the deployment uses.
const (
	// Namespace is where the daemon runs.
	Namespace = "gadgetry"
	// Name is the name of the DaemonSet, ServiceAccount, ClusterRole and ClusterRoleBinding.
	Name = "gadgetry"
	// Label is the label every object and pod carries, with the value Name.
	Label = "app.kubernetes.io/name"
	// PodSelector selects the daemon's pods.
	PodSelector = Label + "=" + Name
	// Container is the name of the daemon's container in its pod.
	Container = "daemon"
	// GRPCPort is the port the daemon serves gRPC on, on 127.0.0.1 in its pod (reached by
	// port-forward).
	GRPCPort = 7777
	// MetricsPort is the port of the daemon's Prometheus /metrics, named MetricsPortName.
	MetricsPort = 9090
	// MetricsPortName names MetricsPort in the pod.
	MetricsPortName = "metrics"
	// DefaultImage is the daemon's image unless Options.Image says otherwise.
	DefaultImage = "gadgetry:dev"
	// DefaultRuntimeSocket is the container runtime's socket on the nodes (containerd's).
	DefaultRuntimeSocket = "/run/containerd/containerd.sock"
	// RuntimeSocketEnv is the daemon's environment variable naming the runtime's socket in
	// its container (mounted from the node at the same path).
	RuntimeSocketEnv = "GADGETRY_RUNTIME_SOCKET"
	// FieldManager is the server-side apply field manager of `gadgetry deploy`.
	FieldManager = "gadgetry"
)

//go:embed kustomize/*.yaml
var manifests embed.FS

// Options change the deployment.
type Options struct {
	// Image is the daemon's image; empty means DefaultImage.
	Image string
	// PullPolicy is the image pull policy; empty means IfNotPresent.
	PullPolicy corev1.PullPolicy
	// RuntimeSocket is the container runtime's socket on the nodes; empty means
	// DefaultRuntimeSocket.
	RuntimeSocket string
	// RegistrySecret names a Secret of type kubernetes.io/dockerconfigjson in Namespace:
	// the daemon pulls gadget images with its credentials (mounted at RegistryConfigDir,
	// DOCKER_CONFIG). Empty: anonymous pulls.
	RegistrySecret string
	// PublicKeys is "CONFIGMAP" or "CONFIGMAP:KEY,KEY…": a ConfigMap in Namespace whose keys
	// (default cosign.pub) are the trusted public keys the daemon verifies gadget images
	// with (mounted at PublicKeysDir, GADGETRY_PUBLIC_KEYS). A key the ConfigMap lacks keeps
	// the pod from starting: the daemon never runs with fewer keys than asked for. Empty:
	// the keys of the daemon's image (none: images run unverified, with a warning).
	PublicKeys string
	// ImagePullSecret names a Secret in Namespace the nodes pull the daemon's own image with.
	ImagePullSecret string
}

// Where the daemon's container finds what Options mount.
const (
	RegistryConfigDir = "/etc/gadgetry/docker"
	PublicKeysDir     = "/etc/gadgetry/keys"
	// DefaultPublicKey is the ConfigMap key Options.PublicKeys reads when it names none.
	DefaultPublicKey = "cosign.pub"
)

// Objects is the whole deployment.
type Objects struct {
	Namespace          *corev1.Namespace
	ServiceAccount     *corev1.ServiceAccount
	ClusterRole        *rbacv1.ClusterRole
	ClusterRoleBinding *rbacv1.ClusterRoleBinding
	DaemonSet          *appsv1.DaemonSet
}

// List returns the objects in the order they are applied (each one's dependencies first).
func (o *Objects) List() []runtime.Object {
	return []runtime.Object{o.Namespace, o.ServiceAccount, o.ClusterRole, o.ClusterRoleBinding, o.DaemonSet}
}

// Base returns the objects of the kustomize base as they are in kustomize/.
func Base() (*Objects, error) {
	docs, err := baseDocuments()
	if err != nil {
		return nil, err
	}
	o := &Objects{}
	for _, d := range docs {
		var tm struct{ Kind string }
		if err := yaml.Unmarshal(d.data, &tm); err != nil {
			return nil, fmt.Errorf("%s: %w", d.file, err)
		}
		var target any
		switch tm.Kind {
		case "Namespace":
			o.Namespace = &corev1.Namespace{}
			target = o.Namespace
		case "ServiceAccount":
			o.ServiceAccount = &corev1.ServiceAccount{}
			target = o.ServiceAccount
		case "ClusterRole":
			o.ClusterRole = &rbacv1.ClusterRole{}
			target = o.ClusterRole
		case "ClusterRoleBinding":
			o.ClusterRoleBinding = &rbacv1.ClusterRoleBinding{}
			target = o.ClusterRoleBinding
		case "DaemonSet":
			o.DaemonSet = &appsv1.DaemonSet{}
			target = o.DaemonSet
		default:
			return nil, fmt.Errorf("%s: unexpected kind %q", d.file, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(d.data, target); err != nil {
			return nil, fmt.Errorf("%s: %w", d.file, err)
		}
	}
	for _, missing := range []struct {
		nil  bool
		kind string
	}{{o.Namespace == nil, "Namespace"}, {o.ServiceAccount == nil, "ServiceAccount"}, {o.ClusterRole == nil, "ClusterRole"}, {o.ClusterRoleBinding == nil, "ClusterRoleBinding"}, {o.DaemonSet == nil, "DaemonSet"}} {
		if missing.nil {
			return nil, fmt.Errorf("the kustomize base has no %s", missing.kind)
		}
	}
	if c := o.daemon(); c == nil {
		return nil, fmt.Errorf("the DaemonSet has no container named %q", Container)
	}
	return o, nil
}

type document struct {
	file string
	data []byte
}

// baseDocuments returns the YAML documents of the resources kustomization.yaml lists, in its
// order.
func baseDocuments() ([]document, error) {
	k, err := manifests.ReadFile("kustomize/kustomization.yaml")
	if err != nil {
		return nil, err
	}
	var kust struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(k, &kust); err != nil {
		return nil, fmt.Errorf("kustomization.yaml: %w", err)
	}
	var docs []document
	for _, r := range kust.Resources {
		b, err := manifests.ReadFile(path.Join("kustomize", r))
		if err != nil {
			return nil, err
		}
		for _, d := range splitYAML(b) {
			docs = append(docs, document{file: r, data: d})
		}
	}
	return docs, nil
}

// splitYAML splits a YAML stream on "---" lines, dropping documents with nothing but comments.
func splitYAML(b []byte) [][]byte {
	var out [][]byte
	for _, d := range strings.Split("\n"+string(b), "\n---") {
		content := false
		for _, line := range strings.Split(d, "\n") {
			t := strings.TrimSpace(line)
			if t != "" && !strings.HasPrefix(t, "#") {
				content = true
				break
			}
		}
		if content {
			out = append(out, []byte(d))
		}
	}
	return out
}

// New returns the deployment with opts applied to the base.
func New(opts Options) (*Objects, error) {
	o, err := Base()
	if err != nil {
		return nil, err
	}
	c := o.daemon()
	if opts.Image != "" {
		if strings.ContainsAny(opts.Image, " \t\n") {
			return nil, fmt.Errorf("--image %q: an image reference has no spaces", opts.Image)
		}
		c.Image = opts.Image
	}
	switch opts.PullPolicy {
	case "":
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
		c.ImagePullPolicy = opts.PullPolicy
	default:
		return nil, fmt.Errorf("image pull policy %q: want Always, IfNotPresent or Never", opts.PullPolicy)
	}
	if err := o.mountOptions(opts); err != nil {
		return nil, err
	}
	if s := opts.RuntimeSocket; s != "" && s != DefaultRuntimeSocket {
		if !path.IsAbs(s) || path.Clean(s) != s {
			return nil, fmt.Errorf("runtime socket %q: want an absolute, clean path on the nodes", s)
		}
		spec := &o.DaemonSet.Spec.Template.Spec
		for i := range spec.Volumes {
			if spec.Volumes[i].Name == "runtime-socket" && spec.Volumes[i].HostPath != nil {
				spec.Volumes[i].HostPath.Path = s
			}
		}
		for i := range c.VolumeMounts {
			if c.VolumeMounts[i].Name == "runtime-socket" {
				c.VolumeMounts[i].MountPath = s
			}
		}
		for i := range c.Env {
			if c.Env[i].Name == RuntimeSocketEnv {
				c.Env[i].Value = s
			}
		}
	}
	return o, nil
}

// mountOptions adds the registry Secret, the trusted keys' ConfigMap and the image pull
// Secret of opts to the daemon's pod.
func (o *Objects) mountOptions(opts Options) error {
	spec := &o.DaemonSet.Spec.Template.Spec
	c := o.daemon()
	readOnly := func(name, dir string) {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: dir, ReadOnly: true})
	}
	if name := opts.RegistrySecret; name != "" {
		if err := objectName("--registry-secret", name); err != nil {
			return err
		}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "registry", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: name,
				Items: []corev1.KeyToPath{{Key: corev1.DockerConfigJsonKey, Path: "config.json"}}}}})
		readOnly("registry", RegistryConfigDir)
		c.Env = append(c.Env, corev1.EnvVar{Name: "DOCKER_CONFIG", Value: RegistryConfigDir})
	}
	if opts.PublicKeys != "" {
		name, keyList, _ := strings.Cut(opts.PublicKeys, ":")
		if err := objectName("--public-keys-configmap", name); err != nil {
			return err
		}
		keys := []string{DefaultPublicKey}
		if keyList != "" {
			keys = strings.Split(keyList, ",")
		}
		var items []corev1.KeyToPath
		var paths []string
		for _, k := range keys {
			if k == "" || strings.ContainsAny(k, "/,") || k == "." || k == ".." {
				return fmt.Errorf("--public-keys-configmap %s: %q is not a ConfigMap key (a file name, such as cosign.pub)", opts.PublicKeys, k)
			}
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
			paths = append(paths, path.Join(PublicKeysDir, k))
		}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "public-keys", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Items: items}}})
		readOnly("public-keys", PublicKeysDir)
		c.Env = append(c.Env, corev1.EnvVar{Name: "GADGETRY_PUBLIC_KEYS", Value: strings.Join(paths, ",")})
	}
	if name := opts.ImagePullSecret; name != "" {
		if err := objectName("--image-pull-secret", name); err != nil {
			return err
		}
		spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
	}
	return nil
}

// objectName checks that name can name a Secret or ConfigMap (a DNS subdomain).
func objectName(flag, name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("%s %q: not an object name: %s", flag, name, strings.Join(errs, "; "))
	}
	return nil
}

// daemon returns the DaemonSet's daemon container.
func (o *Objects) daemon() *corev1.Container {
	cs := o.DaemonSet.Spec.Template.Spec.Containers
	for i := range cs {
		if cs[i].Name == Container {
			return &cs[i]
		}
	}
	return nil
}

// Maps returns the objects as plain maps, without what no manifest sets (empty and null
// fields, status): what Write prints and Equal compares.
func (o *Objects) Maps() ([]map[string]any, error) {
	var out []map[string]any
	for _, obj := range o.List() {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, err
		}
		delete(m, "status")
		out = append(out, Clean(m).(map[string]any))
	}
	return out, nil
}

// Clean drops null values, empty maps and empty lists from a decoded object, recursively.
func Clean(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			c := Clean(e)
			if c == nil {
				delete(t, k)
				continue
			}
			t[k] = c
		}
		if len(t) == 0 {
			return nil
		}
		return t
	case []any:
		if len(t) == 0 {
			return nil
		}
		for i := range t {
			if c := Clean(t[i]); c != nil {
				t[i] = c
			} else {
				t[i] = map[string]any{}
			}
		}
		return t
	}
	return v
}

// Write prints the objects as YAML documents (format "yaml") or a v1 List (format "json"),
// as `kubectl apply --dry-run=client -o yaml|json` would.
func (o *Objects) Write(w io.Writer, format string) error {
	maps, err := o.Maps()
	if err != nil {
		return err
	}
	switch format {
	case "yaml":
		for i, m := range maps {
			b, err := yaml.Marshal(m)
			if err != nil {
				return err
			}
			if i > 0 {
				if _, err := io.WriteString(w, "---\n"); err != nil {
					return err
				}
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	case "json":
		items := make([]any, len(maps))
		for i, m := range maps {
			items[i] = m
		}
		b, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "    ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	return fmt.Errorf("output format %q: want yaml or json", format)
}

// ParseYAML decodes a stream of YAML documents (kubectl's or kustomize's output) into cleaned
// maps (see Clean), skipping empty documents.
func ParseYAML(b []byte) ([]map[string]any, error) {
	var out []map[string]any
	for _, d := range splitYAML(b) {
		var m map[string]any
		if err := yaml.Unmarshal(d, &m); err != nil {
			return nil, err
		}
		if c, ok := Clean(m).(map[string]any); ok {
			delete(c, "status")
			out = append(out, c)
		}
	}
	return out, nil
}

// Diff compares two sets of objects by kind, namespace and name, and describes the first
// differences ("" when they are the same).
func Diff(a, b []map[string]any) string {
	key := func(m map[string]any) string {
		md, _ := m["metadata"].(map[string]any)
		return fmt.Sprintf("%v %v/%v", m["kind"], md["namespace"], md["name"])
	}
	index := func(ms []map[string]any) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, m := range ms {
			out[key(m)] = m
		}
		return out
	}
	ia, ib := index(a), index(b)
	var diffs []string
	for k, ma := range ia {
		mb, ok := ib[k]
		if !ok {
			diffs = append(diffs, "only in the first: "+k)
			continue
		}
		if !reflect.DeepEqual(normalize(ma), normalize(mb)) {
			ya, _ := yaml.Marshal(ma)
			yb, _ := yaml.Marshal(mb)
			diffs = append(diffs, fmt.Sprintf("%s differs:\n%s\n--- versus ---\n%s", k, ya, yb))
		}
	}
	for k := range ib {
		if _, ok := ia[k]; !ok {
			diffs = append(diffs, "only in the second: "+k)
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "\n")
}

// normalize round-trips v through JSON so that numbers compare alike (int64 versus float64).
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&out); err != nil {
		return v
	}
	return out
}

// ErrNotReady is wrapped by Wait's error when the pods did not all become Ready in time.
var ErrNotReady = errors.New("the daemon's pods are not all Ready")
