#!/usr/bin/env bash
# make test-k8s: the Kubernetes tests on a real single-node cluster (docs/kubernetes.md).
#
# 1. builds the Kubernetes binaries when they are not cached (scripts/k8s/build.sh);
# 2. brings one cluster up (scripts/k8s/cluster.sh run) and runs `go test -run '^TestK8s'` in
#    every package that imports internal/k8stest, one package at a time, all on that cluster;
# 3. checks the teardown on a signal: a second cluster is brought up, sent SIGTERM once ready,
#    and must be gone, leaving nothing behind (cluster.sh checks what its teardown left and
#    fails if anything is); a third is killed with SIGKILL, and `cluster.sh sweep` (which
#    every start runs) must remove it.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) -eq 0 ]] || {
	if [[ ${CI:-} == true ]]; then
		echo "test-k8s: needs root (CI=true)" >&2
		exit 1
	fi
	echo "test-k8s: not root: skipped (the cluster runs containerd and the kubelet)" >&2
	exit 0
}
start=$(date +%s)
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
bin=$(scripts/k8s/build.sh)
echo "test-k8s: Kubernetes binaries ready in $(($(date +%s) - start)) s" >&2
mapfile -t pkgs < <(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... |
	awk '$1 == "github.com/gadgetry/gadgetry/internal/k8stest" { print $1; next }
		/ github\.com\/gadgetry\/gadgetry\/internal\/k8stest( |$)/ { print $1 }')
echo "test-k8s: packages: ${pkgs[*]}" >&2
K8S_BIN=$bin scripts/k8s/cluster.sh run -- go test -count=1 -p 1 -timeout 20m -run '^TestK8s' "${pkgs[@]}"

# serve_cluster: brings a cluster up with `cluster.sh serve` in the background; sets pid (the
# script's) and n (the cluster's number).
serve_cluster() {
	fifo=$(mktemp -u)
	mkfifo "$fifo"
	K8S_BIN=$bin scripts/k8s/cluster.sh serve <"$fifo" >"$fifo.out" &
	pid=$!
	exec 8>"$fifo"
	for _ in $(seq 1 1800); do
		grep -q '^ready ' "$fifo.out" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q '^ready ' "$fifo.out"; then
		echo "test-k8s: a cluster for the teardown checks did not come up" >&2
		exit 1
	fi
	n=$(sed -n 's|^ready /var/lib/gadgetry-k8s/\([0-9]*\)/env$|\1|p' "$fifo.out")
}

# cluster_gone N: fails when anything of cluster N is left.
cluster_gone() {
	local left
	left=$(
		compgen -G "/var/lib/gadgetry-k8s/$1" || true
		compgen -G "/sys/fs/cgroup/*/gadgetry-k8s-$1" || true
		grep "/var/lib/gadgetry-k8s/$1/" /proc/self/mountinfo || true
		ip -o link show "gk8s$1" 2>/dev/null || true
		grep -lF "/var/lib/gadgetry-k8s/$1/" /proc/[0-9]*/cmdline 2>/dev/null || true
	)
	if [[ -n $left ]]; then
		printf 'test-k8s: cluster %s left:\n%s\n' "$1" "$left" >&2
		return 1
	fi
}

# The teardown on a signal, from a cluster that is up: the trap runs.
echo "test-k8s: teardown on SIGTERM" >&2
serve_cluster
kill -TERM "$pid"
set +e
wait "$pid"
status=$?
set -e
exec 8>&-
rm -f "$fifo" "$fifo.out"
if [[ $status -ne 143 ]]; then
	echo "test-k8s: cluster.sh ended with $status after SIGTERM, want 143 (a teardown that found leftovers exits 1)" >&2
	exit 1
fi
cluster_gone "$n"

# SIGKILL: no trap runs; the next start's sweep (here `cluster.sh sweep`) removes the cluster.
echo "test-k8s: the sweep after SIGKILL" >&2
serve_cluster
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
exec 8>&-
rm -f "$fifo" "$fifo.out"
scripts/k8s/cluster.sh sweep
cluster_gone "$n"

# When no other cluster runs: nothing of a cluster is left anywhere, fixed paths included.
if ! compgen -G '/var/lib/gadgetry-k8s/[0-9]*' >/dev/null; then
	left=$(
		find /run/containerd/s /var/lib/cni/results /var/log/containers /var/lib/kubelet -mindepth 1 -newer "$stamp" 2>/dev/null
		compgen -G '/sys/fs/cgroup/*/gadgetry-k8s-*' || true
		grep gadgetry-k8s /proc/self/mountinfo || true
		ip -o link show | grep -o 'gk8s[0-9]*' || true
	)
	if [[ -n $left ]]; then
		printf 'test-k8s: the clusters left:\n%s\n' "$left" >&2
		exit 1
	fi
fi
echo "test-k8s: the teardown on SIGTERM and the sweep after SIGKILL left nothing; all in $(($(date +%s) - start)) s" >&2
