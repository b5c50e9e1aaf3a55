#!/usr/bin/env bash
# Installs, idempotently, what building and testing Gadgetry need on a fresh Debian (bookworm)
# machine, and mounts the kernel filesystems the runtime uses. Fast when everything is present:
# it asks apt only for packages that are missing.
#
# Usage: scripts/setup.sh [--vm|--demo|--k8s]
#   --vm:   also what `make vmtest` needs
#   --k8s:  also what `make test-k8s` needs (etcd, containerd, CNI plugins, iptables, openssl;
#           the Kubernetes binaries are built by scripts/k8s/build.sh)
#   --demo: only what `make demo` needs: the kernel mounts (a built-in gadget needs no clang,
#           registry or test tools, and nothing is fetched over the network)
set -euo pipefail

mode="${1:-}"
# cargo and libstd-rust-dev-wasm32: Debian's Rust (1.63, whose WASI target is wasm32-wasi), for the
# test that builds and runs a Rust WASM guest.
want=(clang-19 llvm-19 bpftool libbpf-dev linux-libc-dev-arm64-cross docker-registry apache2-utils runc busybox-static git make gcc libc6-dev protobuf-compiler cargo libstd-rust-dev-wasm32)
case "$mode" in
--vm) want+=(qemu-system-x86 cpio busybox-static xz-utils) ;;
--k8s) want+=(etcd-server containerd containernetworking-plugins iptables iproute2 openssl) ;;
--demo) want=() ;;
esac

missing=()
for p in "${want[@]+"${want[@]}"}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "setup: missing packages: ${missing[*]}; run as root or install them" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# No package may start a service (etcd-server would): the test cluster runs its own.
	norc=
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && norc=1
	fi
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	[[ -n $norc ]] && rm -f /usr/sbin/policy-rc.d
fi

# The runtime reads tracepoint ids from tracefs and pins nothing, but tests and users expect
# the usual mounts; mount them when the machine has not.
if [[ $(id -u) -eq 0 ]]; then
	mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
	# The BPF LSM probe reads the list of active LSMs from securityfs.
	mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security 2>/dev/null || true
fi

[[ "$mode" == "--demo" ]] && exit 0

# Go tools the tests use, built into the project's own bin directory (no global install).
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$here/bin"
if [[ ! -x "$here/bin/oras" ]]; then
	echo "setup: building the oras CLI" >&2
	GOBIN="$here/bin" go install oras.land/oras/cmd/oras@v1.3.6 >&2
fi

# cosign, for the tests that check signatures both ways (docs/signing.md). A v2 release: it
# stores signatures under the sha256-<digest>.sig tag (v3 defaults to referrer bundles). The
# build takes a few minutes on two cores, once.
if [[ ! -x "$here/bin/cosign" ]]; then
	echo "setup: building the cosign CLI (a few minutes, once)" >&2
	GOBIN="$here/bin" go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5 >&2
fi

# The protoc plugins that generate api/v1 from gadgetry.proto (its TestGenerated compares):
# protoc-gen-go at go.mod's google.golang.org/protobuf, protoc-gen-go-grpc pinned.
if [[ ! -x "$here/bin/protoc-gen-go" || ! -x "$here/bin/protoc-gen-go-grpc" ]]; then
	echo "setup: building the protoc plugins" >&2
	(cd "$here" && GOBIN="$here/bin" go install google.golang.org/protobuf/cmd/protoc-gen-go >&2)
	GOBIN="$here/bin" go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2 >&2
fi
