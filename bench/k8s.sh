#!/bin/sh
# Gadgetry on Kubernetes, measured on the real single-node test cluster (bench/k8sbench):
# start-to-first-event and events per second of `kubectl gadgetry run` against a local run of
# the same workload, and the node daemon's resident memory idle and under load. Prints a
# markdown section (make bench appends it to docs/benchmarks.md: bench/run.sh, K8S_ROUNDS).
# Usage: bench/k8s.sh [ROUNDS]   (default 5; K8S_BIN as for scripts/k8s/cluster.sh)
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/k8s.sh: run as root (a cluster, eBPF programs)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
bin=${K8S_BIN:-$(scripts/k8s/build.sh)}
K8S_BIN=$bin scripts/k8s/cluster.sh run -- env GADGETRY_K8S_BENCH=1 K8S_BENCH_ROUNDS="${1:-5}" K8S_BENCH_OUT="$out" \
	go test -count=1 -timeout 30m -run '^TestK8sBench$' ./bench/k8sbench >&2
cat "$out"
