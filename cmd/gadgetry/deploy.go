package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/gadgetry/gadgetry/deploy"
	"github.com/gadgetry/gadgetry/internal/kubeapi"
)

// deployClusterFlags are the flags that pick the cluster, as kubectl's.
type deployClusterFlags struct {
	kubeconfig, context string
}

func (f *deployClusterFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
	cmd.Flags().StringVar(&f.context, "context", "", "the kubeconfig context to use (default: its current context)")
}

func (f *deployClusterFlags) clientset() (*kubeapi.Client, error) {
	cfg, err := deploy.RESTConfig(f.kubeconfig, f.context)
	if err != nil {
		return nil, err
	}
	return kubeapi.New(cfg)
}

// newDeployCmd is `deploy`: Gadgetry's node daemon on every node of a Kubernetes cluster.
func newDeployCmd() *cobra.Command {
	var kf deployClusterFlags
	var image, pullPolicy, runtimeSocket, dryRun, output string
	var registrySecret, publicKeys, imagePullSecret string
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Run Gadgetry's node daemon on every node of a Kubernetes cluster",
		Long: `Apply Gadgetry's deployment to the cluster of the kubeconfig (server-side apply, field manager
"gadgetry"): the namespace gadgetry, the ServiceAccount, ClusterRole and ClusterRoleBinding of the
daemon (read access to pods, nodes and namespaces) and the DaemonSet that runs
'gadgetry daemon' on every node (privileged, hostPID, with the host's /proc, debugfs, tracefs,
bpffs, cgroup tree and the container runtime's socket). Then wait until every node's daemon pod
is Ready. Running it again updates the objects (another --image, say).

The daemon pulls and verifies gadget images itself. --registry-secret mounts the registry
credentials of a Secret (kubectl create secret docker-registry NAME -n gadgetry …);
--public-keys-configmap the trusted keys of a ConfigMap (kubectl create configmap NAME
-n gadgetry --from-file=cosign.pub): the daemon then runs only images one of them verifies.
Both live in the daemon's namespace: create it first (kubectl create namespace gadgetry) or
deploy once without them.

The same objects come from the kustomize base: kubectl apply -k deploy/kustomize.
--dry-run=client prints them (-o yaml or json) without touching the cluster.
Remove everything with 'gadgetry undeploy'.`,
		Example: `  gadgetry deploy
  gadgetry deploy --image registry.example.com/gadgetry:v0.5.0
  gadgetry deploy --registry-secret gadgetry-registry --public-keys-configmap gadgetry-keys
  gadgetry deploy --dry-run=client -o yaml > gadgetry.yaml`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dryRun != "none" && dryRun != "client" {
				return &cliUsageError{fmt.Sprintf("deploy: --dry-run=%s: want client (print the objects) or none", dryRun)}
			}
			if output != "" && output != "yaml" && output != "json" {
				return &cliUsageError{fmt.Sprintf("deploy: -o %s: want yaml or json", output)}
			}
			if output != "" && dryRun != "client" {
				return &cliUsageError{"deploy: -o prints the objects with --dry-run=client; without it deploy applies them"}
			}
			objs, err := deploy.New(deploy.Options{Image: image, PullPolicy: corev1.PullPolicy(pullPolicy), RuntimeSocket: runtimeSocket,
				RegistrySecret: registrySecret, PublicKeys: publicKeys, ImagePullSecret: imagePullSecret})
			if err != nil {
				return &cliUsageError{"deploy: " + err.Error()}
			}
			if dryRun == "client" {
				if output == "" {
					output = "yaml"
				}
				return objs.Write(cmd.OutOrStdout(), output)
			}
			cs, err := kf.clientset()
			if err != nil {
				return fmt.Errorf("deploy: %w", err)
			}
			progress := func(s string) { fmt.Fprintln(cmd.ErrOrStderr(), s) }
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if err := deploy.Apply(ctx, cs, objs, progress); err != nil {
				return fmt.Errorf("deploy: %w", err)
			}
			if !wait {
				return nil
			}
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if err := deploy.Wait(wctx, cs, progress); err != nil {
				return fmt.Errorf("deploy: %w", err)
			}
			return nil
		},
	}
	kf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&image, "image", deploy.DefaultImage, "the daemon's container image")
	f.StringVar(&pullPolicy, "image-pull-policy", string(corev1.PullIfNotPresent), "when the nodes pull the image: Always, IfNotPresent or Never")
	f.StringVar(&runtimeSocket, "runtime-socket", deploy.DefaultRuntimeSocket, "the container runtime's socket on the nodes")
	f.StringVar(&registrySecret, "registry-secret", "", "a Secret (type kubernetes.io/dockerconfigjson) of the daemons' namespace: the registry credentials they pull gadget images with")
	f.StringVar(&publicKeys, "public-keys-configmap", "", "CONFIGMAP[:KEY,...]: a ConfigMap of the daemons' namespace; its keys (default cosign.pub) are the public keys they verify gadget images with")
	f.StringVar(&imagePullSecret, "image-pull-secret", "", "a Secret of the daemons' namespace the nodes pull the daemon's image with")
	f.StringVar(&dryRun, "dry-run", "none", "client: print the objects instead of applying them")
	f.StringVarP(&output, "output", "o", "", "with --dry-run=client: yaml (default) or json")
	f.BoolVar(&wait, "wait", true, "wait until every node's daemon pod is Ready")
	f.DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the pods")
	f.Lookup("dry-run").NoOptDefVal = "client"
	return cmd
}

// newUndeployCmd is `undeploy`: remove what deploy made.
func newUndeployCmd() *cobra.Command {
	var kf deployClusterFlags
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "undeploy",
		Short: "Remove Gadgetry's node daemon and everything 'gadgetry deploy' made from the cluster",
		Long: `Delete the DaemonSet (its pods first), the ClusterRoleBinding, the ClusterRole, the ServiceAccount
and the namespace gadgetry, and wait until they are gone: the daemons stop, and with them every
gadget they ran. Objects already gone are skipped.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := kf.clientset()
			if err != nil {
				return fmt.Errorf("undeploy: %w", err)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			progress := func(s string) { fmt.Fprintln(cmd.ErrOrStderr(), s) }
			if err := deploy.Delete(ctx, cs, wait, progress); err != nil {
				return fmt.Errorf("undeploy: %w", err)
			}
			return nil
		},
	}
	kf.add(cmd)
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until everything is gone")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait")
	return cmd
}
