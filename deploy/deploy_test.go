package deploy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestBaseIsTheContract checks the names and the command line the client and the daemon rely
// on (the package comment), and what the daemon needs from the node.
func TestBaseIsTheContract(t *testing.T) {
	o, err := Base()
	if err != nil {
		t.Fatal(err)
	}
	ds := o.DaemonSet
	if ds.Namespace != Namespace || ds.Name != Name || o.Namespace.Name != Namespace {
		t.Errorf("DaemonSet %s/%s, namespace %s", ds.Namespace, ds.Name, o.Namespace.Name)
	}
	if ds.Spec.Selector.MatchLabels[Label] != Name || ds.Spec.Template.Labels[Label] != Name {
		t.Errorf("selector %v, pod labels %v: want %s", ds.Spec.Selector.MatchLabels, ds.Spec.Template.Labels, PodSelector)
	}
	spec := ds.Spec.Template.Spec
	if !spec.HostPID || spec.ServiceAccountName != Name {
		t.Errorf("hostPID %v, service account %q", spec.HostPID, spec.ServiceAccountName)
	}
	c := o.daemon()
	wantArgs := []string{"daemon", "--grpc-listen", "127.0.0.1:7777", "--metrics-listen", ":9090", "--node-name", "$(NODE_NAME)"}
	if !slices.Equal(c.Command, []string{"/usr/bin/gadgetry"}) || !slices.Equal(c.Args, wantArgs) {
		t.Errorf("command %q args %q, want /usr/bin/gadgetry %q", c.Command, c.Args, wantArgs)
	}
	if c.Image != DefaultImage || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %q pull policy %q", c.Image, c.ImagePullPolicy)
	}
	var nodeName bool
	for _, e := range c.Env {
		if e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
			nodeName = true
		}
	}
	if !nodeName {
		t.Errorf("NODE_NAME is not spec.nodeName from the downward API: %+v", c.Env)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != MetricsPort || c.Ports[0].Name != MetricsPortName {
		t.Errorf("ports %+v, want %d named %s", c.Ports, MetricsPort, MetricsPortName)
	}
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Error("the daemon is not privileged")
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	hostPaths := map[string]string{}
	for _, v := range spec.Volumes {
		if v.HostPath == nil {
			t.Errorf("volume %s is not a hostPath", v.Name)
			continue
		}
		hostPaths[v.HostPath.Path] = mounts[v.Name]
	}
	for host, inPod := range map[string]string{"/proc": "/host/proc", "/sys/kernel/debug": "/sys/kernel/debug", "/sys/kernel/tracing": "/sys/kernel/tracing", "/sys/fs/bpf": "/sys/fs/bpf", "/sys/fs/cgroup": "/sys/fs/cgroup", DefaultRuntimeSocket: DefaultRuntimeSocket} {
		if hostPaths[host] != inPod {
			t.Errorf("the host's %s is mounted at %q, want %s", host, hostPaths[host], inPod)
		}
	}
	rules := o.ClusterRole.Rules
	if len(rules) != 1 || !slices.Equal(rules[0].Resources, []string{"pods", "nodes", "namespaces"}) || !slices.Equal(rules[0].Verbs, []string{"get", "list", "watch"}) || !slices.Equal(rules[0].APIGroups, []string{""}) {
		t.Errorf("cluster role rules %+v: want get/list/watch on pods, nodes, namespaces only", rules)
	}
	b := o.ClusterRoleBinding
	if b.RoleRef.Name != Name || len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != Name || b.Subjects[0].Namespace != Namespace {
		t.Errorf("binding %+v", b)
	}
}

func TestOptions(t *testing.T) {
	o, err := New(Options{Image: "registry.example.com/gadgetry:v1", PullPolicy: corev1.PullNever, RuntimeSocket: "/run/k3s/containerd/containerd.sock"})
	if err != nil {
		t.Fatal(err)
	}
	c := o.daemon()
	if c.Image != "registry.example.com/gadgetry:v1" || c.ImagePullPolicy != corev1.PullNever {
		t.Errorf("image %q policy %q", c.Image, c.ImagePullPolicy)
	}
	var hostPath, mountPath, env string
	for _, v := range o.DaemonSet.Spec.Template.Spec.Volumes {
		if v.Name == "runtime-socket" {
			hostPath = v.HostPath.Path
		}
	}
	for _, m := range c.VolumeMounts {
		if m.Name == "runtime-socket" {
			mountPath = m.MountPath
		}
	}
	for _, e := range c.Env {
		if e.Name == RuntimeSocketEnv {
			env = e.Value
		}
	}
	for what, got := range map[string]string{"host path": hostPath, "mount path": mountPath, RuntimeSocketEnv: env} {
		if got != "/run/k3s/containerd/containerd.sock" {
			t.Errorf("runtime socket %s = %q", what, got)
		}
	}
	// The base stays as it is.
	b, _ := Base()
	if b.daemon().Image != DefaultImage {
		t.Error("New changed the base")
	}
	for _, bad := range []Options{{Image: "a b"}, {PullPolicy: "Sometimes"}, {RuntimeSocket: "run/x.sock"}, {RuntimeSocket: "/run/../x.sock"}} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
}

// TestCredentialOptions: the registry Secret, the trusted keys' ConfigMap and the image pull
// Secret are mounted where the daemon reads them, each key of the ConfigMap asked for by name
// (a key it lacks keeps the pod from starting); bad names are refused.
func TestCredentialOptions(t *testing.T) {
	o, err := New(Options{RegistrySecret: "gadgetry-registry", PublicKeys: "gadgetry-keys:a.pub,b.pub", ImagePullSecret: "pull"})
	if err != nil {
		t.Fatal(err)
	}
	spec := o.DaemonSet.Spec.Template.Spec
	c := o.daemon()
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if v := vols["registry"].Secret; v == nil || v.SecretName != "gadgetry-registry" || len(v.Items) != 1 ||
		v.Items[0].Key != ".dockerconfigjson" || v.Items[0].Path != "config.json" || v.Optional != nil {
		t.Errorf("registry volume: %+v", vols["registry"])
	}
	if m := mounts["registry"]; m.MountPath != RegistryConfigDir || !m.ReadOnly || env["DOCKER_CONFIG"] != RegistryConfigDir {
		t.Errorf("registry mount %+v, DOCKER_CONFIG %q", m, env["DOCKER_CONFIG"])
	}
	if v := vols["public-keys"].ConfigMap; v == nil || v.Name != "gadgetry-keys" || len(v.Items) != 2 || v.Items[1].Key != "b.pub" || v.Optional != nil {
		t.Errorf("keys volume: %+v", vols["public-keys"])
	}
	if m := mounts["public-keys"]; m.MountPath != PublicKeysDir || !m.ReadOnly ||
		env["GADGETRY_PUBLIC_KEYS"] != PublicKeysDir+"/a.pub,"+PublicKeysDir+"/b.pub" {
		t.Errorf("keys mount %+v, GADGETRY_PUBLIC_KEYS %q", m, env["GADGETRY_PUBLIC_KEYS"])
	}
	if len(spec.ImagePullSecrets) != 1 || spec.ImagePullSecrets[0].Name != "pull" {
		t.Errorf("imagePullSecrets %+v", spec.ImagePullSecrets)
	}
	o, err = New(Options{PublicKeys: "keys"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range o.daemon().Env {
		if e.Name == "GADGETRY_PUBLIC_KEYS" && e.Value != PublicKeysDir+"/"+DefaultPublicKey {
			t.Errorf("GADGETRY_PUBLIC_KEYS = %q, want the default key", e.Value)
		}
	}
	for _, bad := range []Options{{RegistrySecret: "Bad_Name"}, {RegistrySecret: "-x"}, {PublicKeys: "keys:../x"}, {PublicKeys: "keys:a,,b"},
		{PublicKeys: ":cosign.pub"}, {ImagePullSecret: "x."}} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
}

// TestWriteRoundTrip: what Write prints parses back into the same objects, in YAML and JSON.
func TestWriteRoundTrip(t *testing.T) {
	o, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := o.Maps()
	if err != nil {
		t.Fatal(err)
	}
	var y bytes.Buffer
	if err := o.Write(&y, "yaml"); err != nil {
		t.Fatal(err)
	}
	got, err := ParseYAML(y.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(want, got); d != "" {
		t.Errorf("yaml round trip:\n%s", d)
	}
	if strings.Contains(y.String(), "creationTimestamp") || strings.Contains(y.String(), "status") {
		t.Errorf("the YAML has fields no manifest sets:\n%s", y.String())
	}
	var j bytes.Buffer
	if err := o.Write(&j, "json"); err != nil {
		t.Fatal(err)
	}
	var list struct{ Items []map[string]any }
	if err := jsonUnmarshal(j.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if d := Diff(want, list.Items); d != "" {
		t.Errorf("json round trip:\n%s", d)
	}
	if err := o.Write(&j, "xml"); err == nil {
		t.Error("-o xml accepted")
	}
	// Diff sees a change.
	o2, _ := New(Options{Image: "other:1"})
	m2, _ := o2.Maps()
	if Diff(want, m2) == "" || !reflect.DeepEqual(normalize(want), normalize(want)) {
		t.Error("Diff misses another image")
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
