#!/usr/bin/env bash
# A real single-node Kubernetes cluster for the tests, on this machine, and its teardown.
#
#   scripts/k8s/cluster.sh run [--] CMD [ARGS...]
#       brings a cluster up, runs CMD (in the host's network namespace) with KUBECONFIG and
#       GADGETRY_K8S_ENV set, tears the cluster down and exits with CMD's status
#   scripts/k8s/cluster.sh serve
#       brings a cluster up, prints "ready ENVFILE" on stdout, and tears it down when its
#       standard input closes (the parent process exited) or on SIGTERM/SIGINT/SIGHUP.
#       internal/k8stest runs it this way
#   scripts/k8s/cluster.sh sweep
#       tears down the clusters whose owner died without tearing them down (SIGKILL)
#
# What runs: etcd (Debian's etcd-server), kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet and kube-proxy (built by scripts/k8s/build.sh from the
# k8s.io/kubernetes module), containerd and runc (Debian), the bridge and host-local CNI
# plugins (containernetworking-plugins). Everything runs in a network namespace of the
# cluster's own, entered with `nsenter --net` (`ip netns exec` would remount /sys and hide the
# cgroup and bpf mounts), joined to the host by a veth pair: the host reaches the API server at
# 198.18.N.2:6443 (N = the cluster's number). The namespace has no route out (no default
# route; the host does not forward). The kubelet uses the cgroupfs driver under the cgroup
# /gadgetry-k8s-N; containerd, its shims and runc keep every state file under
# /var/lib/gadgetry-k8s/N. No registry is reachable: the pause image is built here
# (internal/k8stest/pause, internal/selfimage) and imported with `ctr -n k8s.io images import`,
# as the tests import Gadgetry's image; pods use imagePullPolicy: Never.
#
# The teardown runs from a trap however the script ends (a sweep at the next start catches a
# SIGKILL): every process of the cluster's cgroups is killed, every mount under its state
# directory unmounted, its cgroups removed, the network namespace and the veth deleted (and with
# them every iptables rule kube-proxy and the CNI plugins made), the host sysctls the kubelet
# sets restored, the kubelet's /var/log/containers links and the CNI cache files removed, and
# the state directory deleted (the logs are kept in $K8S_LOGS, default build/k8s-logs).
#
# Environment: K8S_BIN (the binaries; default: scripts/k8s/build.sh builds them), K8S_IMAGES
# (OCI tarballs to import besides the pause image, separated by ':'), K8S_LOGS.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
root=/var/lib/gadgetry-k8s
lockfile=$root/lock
node=k8stest-node
pause_image=gadgetry.test/pause:1
pod_cidr=198.19.0.0/24
svc_cidr=198.19.16.0/20
svc_ip=198.19.16.1
sysctls=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
	kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.netfilter.nf_conntrack_max)

log() { echo "k8s cluster: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# cgroup_mounts prints the mount point of every cgroup hierarchy (v1 and v2).
cgroup_mounts() {
	awk '$0 ~ / - cgroup2? / { print $5 }' /proc/self/mountinfo | sort -u
}

# locked CMD...: runs CMD holding the lock of the clusters' bookkeeping.
locked() {
	mkdir -p "$root"
	(
		flock 9
		"$@"
	) 9>"$lockfile"
}

# owner_alive N: whether cluster N's owning script still runs.
owner_alive() {
	local f=$root/$1/owner pid start
	[[ -f $f ]] || return 1
	read -r pid start <"$f" || return 1
	[[ -r /proc/$pid/stat ]] || return 1
	[[ $(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null) == "$start" ]]
}

# allocate: picks the lowest free cluster number, records this script as its owner, and saves
# the host sysctls when it is the only cluster. Runs under the lock.
allocate() {
	local n
	for n in $(seq 0 63); do
		if [[ ! -e $root/$n ]]; then
			mkdir -p "$root/$n"
			echo "$$ $(awk '{print $22}' /proc/$$/stat)" >"$root/$n/owner"
			if [[ ! -f $root/sysctls ]]; then
				local s
				for s in "${sysctls[@]}"; do
					[[ -e /proc/sys/${s//.//} ]] && echo "$s=$(cat "/proc/sys/${s//.//}")"
				done >"$root/sysctls"
			fi
			echo "$n"
			return 0
		fi
	done
	return 1
}

# release N: forgets cluster N; the last cluster restores the host sysctls and removes the
# kubelet's fixed-path socket. Runs under the lock.
release() {
	local n=$1 other
	rm -rf --one-file-system "${root:?}/$n"
	for other in "$root"/[0-9]*; do
		[[ -d $other ]] && return 0
	done
	# The kubelet's device plugin socket has a fixed path too (shared by the clusters).
	rm -f /var/lib/kubelet/device-plugins/kubelet.sock
	rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet 2>/dev/null || true
	restore_sysctls
	rm -f "$root/sysctls"
}

# restore_sysctls: sets the host sysctls back to what they were before the first cluster
# started (the kubelet sets them when it starts: kernel.panic_on_oops=1 would make any oops
# during the tests a panic). Runs under the lock.
restore_sysctls() {
	[[ -f $root/sysctls ]] || return 0
	local line k v p
	while IFS= read -r line; do
		k=${line%%=*} v=${line#*=}
		p=/proc/sys/${k//.//}
		[[ -w $p && $(cat "$p") != "$v" ]] && echo "$v" >"$p" 2>/dev/null || true
	done <"$root/sysctls"
}

# kill_cgroup CG: kills every process in the cgroup CG (relative path) of every hierarchy,
# freezing the v1 freezer hierarchy's copy while signalling so nothing forks away.
kill_cgroup() {
	local cg=$1 h pids i
	for i in $(seq 1 100); do
		pids=$(for h in $(cgroup_mounts); do
			[[ -d $h/$cg ]] && find "$h/$cg" -name cgroup.procs -exec cat {} + 2>/dev/null
		done | sort -u)
		[[ -z $pids ]] && return 0
		local fz=/sys/fs/cgroup/freezer/$cg
		[[ -w $fz/freezer.state ]] && echo FROZEN >"$fz/freezer.state" 2>/dev/null || true
		for h in $(cgroup_mounts); do
			[[ -w $h/$cg/cgroup.kill ]] && echo 1 >"$h/$cg/cgroup.kill" 2>/dev/null || true
		done
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null || true
		[[ -w $fz/freezer.state ]] && echo THAWED >"$fz/freezer.state" 2>/dev/null || true
		sleep 0.1
	done
	log "teardown: processes still in cgroup $cg: $pids"
	return 1
}

# unmount_under DIR: unmounts every mount at or below DIR, deepest first.
unmount_under() {
	local dir=$1 i m left
	for i in $(seq 1 20); do
		left=$(awk -v d="$dir" '{ p=$5; gsub(/\\040/, " ", p); if (p == d || index(p, d "/") == 1) print p }' /proc/self/mountinfo | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-)
		[[ -z $left ]] && return 0
		while IFS= read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		done <<<"$left"
	done
	log "teardown: still mounted: $left"
	return 1
}

# teardown N [locked]: removes everything cluster N made. Idempotent; used by the trap and
# the sweep (which already holds the lock: "locked").
teardown() {
	# A trap can run inside a command with its own IFS (read): split words as usual here.
	local IFS=$' \t\n'
	local n=$1 state=$root/$1 cg=gadgetry-k8s-$1 ok=0 h
	log "tearing down cluster $n"
	kill_cgroup "$cg" || ok=1
	# containerd's shims put their sockets in /run/containerd/s (a fixed path), named by the
	# sha256 of <containerd address>/<namespace>/<id>; a killed shim leaves its socket.
	# The CNI library caches each sandbox's results in /var/lib/cni/results (fixed too).
	local ctd=$state/containerd b id sock
	for b in "$ctd"/state/io.containerd.runtime.v2.task/*/*; do
		[[ -d $b ]] || continue
		id=${b##*/}
		sock=/run/containerd/s/$(printf '%s' "$ctd/containerd.sock/$(basename "$(dirname "$b")")/$id" | sha256sum | cut -d' ' -f1)
		rm -f "$sock" "$sock".* /var/lib/cni/results/*-"$id"-* 2>/dev/null || true
	done
	rmdir /run/containerd/s /run/containerd 2>/dev/null || true
	unmount_under "$state" || ok=1
	for h in $(cgroup_mounts); do
		[[ -d $h/$cg ]] || continue
		find "$h/$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		if [[ -d $h/$cg ]]; then
			sleep 0.5
			find "$h/$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || {
				log "teardown: cannot remove cgroup $h/$cg"
				ok=1
			}
		fi
	done
	ip link del "gk8s$n" 2>/dev/null || true
	if ip link show "gk8s$n" >/dev/null 2>&1; then
		log "teardown: the veth gk8s$n remains"
		ok=1
	fi
	local p left=""
	for p in /proc/[0-9]*; do
		grep -qF "$state/" "$p/cmdline" 2>/dev/null && left+=" ${p#/proc/}"
	done
	if [[ -n $left ]]; then
		log "teardown: processes of the cluster remain:$left"
		ok=1
	fi
	# The kubelet links container logs into /var/log/containers (a fixed path).
	if [[ -d /var/log/containers ]]; then
		find /var/log/containers -maxdepth 1 -type l -lname "$state/*" -delete 2>/dev/null || true
		rmdir /var/log/containers 2>/dev/null || true
	fi
	rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null || true
	if [[ -d $state/logs ]]; then
		local out=${K8S_LOGS:-$here/build/k8s-logs}/cluster-$n
		mkdir -p "$out" && cp -a "$state/logs/." "$out/" 2>/dev/null || true
	fi
	if awk -v d="$state" '{ if ($5 == d || index($5, d "/") == 1) found=1 } END { exit !found }' /proc/self/mountinfo; then
		log "teardown: mounts remain under $state; leaving it"
		return 1
	fi
	if [[ ${2:-} == locked ]]; then
		release "$n"
	else
		locked release "$n"
	fi
	return $ok
}

# sweep: tears down the clusters whose owner is gone.
sweep() {
	local d n
	for d in "$root"/[0-9]*; do
		[[ -d $d ]] || continue
		n=${d##*/}
		owner_alive "$n" && continue
		log "cluster $n was left behind by a dead run: removing it"
		teardown "$n" locked || true
	done
}

b64() { base64 -w0 <"$1"; }

# cert NAME CN [O] [SANS]: a key and a certificate signed by the cluster's CA.
cert() {
	local name=$1 cn=$2 o=${3:-} sans=${4:-}
	local subj="/CN=$cn"
	[[ -n $o ]] && subj="/O=$o$subj"
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
	openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		if [[ -n $sans ]]; then
			echo "extendedKeyUsage=serverAuth,clientAuth"
			echo "subjectAltName=$sans"
		else
			echo "extendedKeyUsage=clientAuth"
		fi
	} >"$pki/$name.ext"
	openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
		-days 2 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
}

# kubeconfig FILE USER SERVER: a kubeconfig for the certificate USER.
kubeconfig() {
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gadgetry-k8stest
  cluster:
    server: $3
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$pki/$2.crt")
    client-key-data: $(b64 "$pki/$2.key")
contexts:
- name: gadgetry-k8stest
  context:
    cluster: gadgetry-k8stest
    user: $2
current-context: gadgetry-k8stest
EOF
}

# start NAME CMD...: runs CMD in the cluster's cgroup and network namespace, logging to
# logs/NAME.log.
declare -A pids=()
start() {
	local name=$1 h
	shift
	(
		for h in $(cgroup_mounts); do
			echo "$BASHPID" >"$h/$cg/components/cgroup.procs"
		done
		exec nsenter --net="$netns" "$@" </dev/null >"$state/logs/$name.log" 2>&1
	) &
	pids[$name]=$!
	disown # no "Killed" job report at the teardown
}

# wait_for WHAT CMD...: retries CMD until it succeeds; a hang guard of 3 minutes.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 1 1800); do
		"$@" >/dev/null 2>&1 && return 0
		check_alive
		sleep 0.1
	done
	die "$what: not after 3 minutes (logs: $state/logs)"
}

# check_alive: fails when a component has exited (its log's end tells why).
check_alive() {
	local c st
	for c in "${!pids[@]}"; do
		st=$(awk '{print $3}' "/proc/${pids[$c]}/stat" 2>/dev/null || echo X)
		if [[ $st == Z || $st == X ]]; then
			log "$c exited; the end of its log:"
			tail -n 30 "$state/logs/$c.log" >&2
			exit 1
		fi
	done
}

kubectl_() { "$bin/kubectl" --kubeconfig "$state/admin.kubeconfig" --cache-dir "$state/kube-cache" "$@"; }

up() {
	[[ $(id -u) -eq 0 ]] || die "needs root (it runs containerd and the kubelet)"
	local t0 c
	t0=$(date +%s%N)
	for c in etcd containerd ctr runc nsenter unshare ip openssl iptables /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback; do
		command -v "$c" >/dev/null || die "$c is missing: run scripts/setup.sh --k8s"
	done
	bin=${K8S_BIN:-$("$here/scripts/k8s/build.sh")}
	for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
		[[ -x $bin/$c ]] || die "$bin/$c is missing: run scripts/k8s/build.sh"
	done
	# The pause image, built from this checkout (cached by go build).
	local cache=$here/.cache/k8s
	mkdir -p "$cache"
	(cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$cache/pause" ./internal/k8stest/pause &&
		go run ./internal/selfimage/mkimage -kind pause -binary "$cache/pause" -name "$pause_image" -o "$cache/pause.tar" >/dev/null) ||
		die "building the pause image failed"

	locked sweep
	n=$(locked allocate) || die "no free cluster number (64 clusters in $root?)"
	state=$root/$n
	cg=gadgetry-k8s-$n
	netns=$state/netns
	pki=$state/pki
	# A teardown that leaves something behind makes the script fail.
	trap 'st=$?; if ! teardown "$n"; then st=1; fi; exit $st' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	mkdir -p "$state/logs" "$pki" "$state/etcd" "$state/cni/net.d" "$state/cni/ipam" "$state/kubelet" "$state/pod-logs"
	local host_ip=198.18.$n.1 node_ip=198.18.$n.2

	# cgroups: the components in gadgetry-k8s-N/components, the pods in gadgetry-k8s-N/kubepods.
	local h
	for h in $(cgroup_mounts); do
		mkdir -p "$h/$cg/components"
		# cgroup v2: the kubelet needs the controllers enabled down to its root (a hybrid
		# host's v2 hierarchy has none to enable).
		if [[ -f $h/cgroup.controllers ]]; then
			for c in $(cat "$h/cgroup.controllers"); do
				grep -qw "$c" "$h/cgroup.subtree_control" || echo "+$c" >"$h/cgroup.subtree_control" 2>/dev/null || true
				echo "+$c" >"$h/$cg/cgroup.subtree_control" 2>/dev/null || true
			done
		fi
	done
	[[ -d /sys/fs/cgroup/cpuset/$cg ]] && for f in cpuset.cpus cpuset.mems; do
		cat "/sys/fs/cgroup/cpuset/$f" >"/sys/fs/cgroup/cpuset/$cg/$f"
		cat "/sys/fs/cgroup/cpuset/$f" >"/sys/fs/cgroup/cpuset/$cg/components/$f"
	done

	# The network: a namespace bound to a file, a veth to the host, no default route.
	touch "$netns"
	unshare --net="$netns" true
	ip link add "gk8s$n" type veth peer name eth0 netns "$netns"
	ip addr add "$host_ip/24" dev "gk8s$n"
	ip link set "gk8s$n" up
	nsenter --net="$netns" sh -ec "
		ip link set lo up
		ip addr add $node_ip/24 dev eth0
		ip link set eth0 up
		echo 1 > /proc/sys/net/ipv4/ip_forward"
	mount -t tmpfs -o size=512m tmpfs "$state/etcd"

	# Certificates: one CA, the API server's serving certificate, a client certificate for
	# each component and the administrator (system:masters), the service-account key pair.
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key" 2>/dev/null
	openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=gadgetry-k8stest-ca" -days 2 \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$pki/ca.crt" 2>/dev/null
	cert apiserver kube-apiserver "" "IP:$node_ip,IP:127.0.0.1,IP:$svc_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	cert admin gadgetry-k8stest-admin system:masters
	cert apiserver-kubelet kube-apiserver-kubelet-client system:masters
	cert controller-manager system:kube-controller-manager
	cert scheduler system:kube-scheduler
	cert kubelet "system:node:$node" system:nodes
	cert kube-proxy system:kube-proxy
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null
	openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
	local server=https://$node_ip:6443
	kubeconfig "$state/admin.kubeconfig" admin "$server"
	for c in controller-manager scheduler kubelet kube-proxy; do
		kubeconfig "$state/$c.kubeconfig" "$c" "$server"
	done

	# containerd, with every path under the state directory.
	local ctd=$state/containerd
	mkdir -p "$ctd"
	cat >"$ctd/config.toml" <<EOF
version = 2
root = "$ctd/root"
state = "$ctd/state"
plugin_dir = ""
[grpc]
  address = "$ctd/containerd.sock"
[ttrpc]
  address = "$ctd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$ctd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
        Root = "$ctd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$state/cni/net.d"
    max_conf_num = 1
EOF
	cat >"$state/cni/net.d/10-gadgetry-k8s.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "gadgetry-k8s-$n",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$pod_cidr"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$state/cni/ipam"
      }
    }
  ]
}
EOF
	start containerd containerd --config "$ctd/config.toml"
	start etcd etcd --name default --data-dir "$state/etcd/data" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster default=http://127.0.0.1:2380 --log-level warn
	start kube-apiserver "$bin/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
		--advertise-address="$node_ip" --bind-address=0.0.0.0 --secure-port=6443 \
		--tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
		--client-ca-file="$pki/ca.crt" --authorization-mode=Node,RBAC --allow-privileged=true \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
		--service-cluster-ip-range="$svc_cidr" \
		--kubelet-client-certificate="$pki/apiserver-kubelet.crt" --kubelet-client-key="$pki/apiserver-kubelet.key" \
		--kubelet-preferred-address-types=InternalIP \
		--profiling=false --v=1
	cat >"$state/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: /$cg
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$ctd/containerd.sock
imageServiceEndpoint: unix://$ctd/containerd.sock
address: $node_ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
podLogsDir: $state/pod-logs
volumePluginDir: $state/kubelet/volume-plugins
evictionHard:
  memory.available: 50Mi
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
	cat >"$state/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $state/kube-proxy.kubeconfig
mode: iptables
clusterCIDR: $pod_cidr
hostnameOverride: $node
bindAddress: $node_ip
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
	wait_for "containerd answering" ctr --address "$ctd/containerd.sock" version
	ctr --address "$ctd/containerd.sock" -n k8s.io images import "$cache/pause.tar" >/dev/null
	local img
	IFS=: read -r -a imgs <<<"${K8S_IMAGES:-}"
	for img in "${imgs[@]+"${imgs[@]}"}"; do
		[[ -n $img ]] && ctr --address "$ctd/containerd.sock" -n k8s.io images import "$img" >/dev/null
	done
	wait_for "the API server ready" kubectl_ get --raw /readyz
	start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig="$state/controller-manager.kubeconfig" \
		--service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
		--use-service-account-credentials=true --leader-elect=false --secure-port=0 --v=1
	start kube-scheduler "$bin/kube-scheduler" --kubeconfig="$state/scheduler.kubeconfig" \
		--leader-elect=false --secure-port=0 --v=1
	start kubelet "$bin/kubelet" --config="$state/kubelet.yaml" --kubeconfig="$state/kubelet.kubeconfig" \
		--root-dir="$state/kubelet" --cert-dir="$state/kubelet/pki" --node-ip="$node_ip" \
		--hostname-override="$node" --v=1
	start kube-proxy "$bin/kube-proxy" --config="$state/kube-proxy.yaml" --v=1
	wait_for "the node registered" kubectl_ get node "$node"
	wait_for "the node Ready" kubectl_ wait --for=condition=Ready "node/$node" --timeout=1s
	wait_for "the default service account" kubectl_ get serviceaccount default -n default
	wait_for "the kube-root-ca.crt config map" kubectl_ get configmap kube-root-ca.crt -n default
	# The kubelet has set its sysctls by now (it does so once, when it starts): back to the
	# host's at once, not only at the teardown.
	locked restore_sysctls

	cat >"$state/env" <<EOF
GADGETRY_K8S_KUBECONFIG=$state/admin.kubeconfig
GADGETRY_K8S_CONTAINERD=$ctd/containerd.sock
GADGETRY_K8S_NODE=$node
GADGETRY_K8S_NETNS=$netns
GADGETRY_K8S_STATE=$state
GADGETRY_K8S_BIN=$bin
GADGETRY_K8S_CGROUP=/$cg
EOF
	local ms=$((($(date +%s%N) - t0) / 1000000))
	log "cluster $n up in $((ms / 1000)).$(printf %03d $((ms % 1000))) s: API server $server, node $node, containerd $ctd/containerd.sock"
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case "$cmd" in
run)
	[[ ${1:-} == -- ]] && shift
	[[ $# -gt 0 ]] || die "run: name a command to run against the cluster"
	up
	set +e
	KUBECONFIG=$state/admin.kubeconfig GADGETRY_K8S_ENV=$state/env "$@"
	status=$?
	set -e
	exit $status
	;;
serve)
	up
	echo "ready $state/env"
	# Until the parent closes our standard input (or dies), or a signal arrives.
	while read -r _; do :; done
	exit 0
	;;
sweep)
	[[ $(id -u) -eq 0 ]] || die "needs root"
	locked sweep
	;;
*)
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
