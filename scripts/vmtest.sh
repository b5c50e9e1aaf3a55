#!/usr/bin/env bash
# Runs the kernel-dependent tests inside Debian's distribution kernels, booted by qemu (TCG),
# once per kernel listed in vmtest/kernels. See docs/testing.md.
#
# Usage: scripts/vmtest.sh [metapackage...]     (default: every kernel in vmtest/kernels)
#
# For each kernel: resolve the metapackage to today's kernel package, fetch it with
# `apt-get download` into a cache keyed by package and version (unpacked, never installed),
# pack busybox, vmtest/init, the static test binaries of vmtest/packages (with their testdata/
# and its *.bpf.c compiled, and the files their TestVMPrepare built on the host), the static gadgetry binary and the host programs of
# vmtest/binaries (with their shared libraries) into an initramfs, boot it, stream
# the serial console prefixed with the kernel release, and read the result back through qemu's
# isa-debug-exit device. The last line is "vmtest: N passed, N failed, N skipped".
#
# Environment: GADGETRY_VMTEST_CACHE (default /var/cache/gadgetry/vmtest),
# VMTEST_BOOT_TIMEOUT (seconds per boot, default 600: a hang guard above the sum of the test
# binaries' own -test.timeout, which stop a hung test first and name it), CI=true (a skipped test inside the VM
# fails, unless internal/kernel skipped it for a feature this kernel is not expected to have).
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${GADGETRY_VMTEST_CACHE:-/var/cache/gadgetry/vmtest}
boot_timeout=${VMTEST_BOOT_TIMEOUT:-600}
clang=${CLANG:-clang-19}
strip=${LLVM_STRIP:-llvm-strip-19}
go=${GO:-go}

log() { echo "vmtest: $*" >&2; }
die() {
	log "$*"
	echo "vmtest: 0 passed, 1 failed"
	exit 1
}

# Reads a config file of vmtest/: drops comments and blank lines.
conf() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/vmtest/$1"; }

# --- what the run needs on the machine ------------------------------------------------------
need_pkgs=()
for p in qemu-system-x86 busybox-static cpio xz-utils clang-19 llvm-19 libbpf-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
apt_updated=
apt_update() {
	[[ -n $apt_updated ]] && return 0
	apt_updated=1
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
}
if ((${#need_pkgs[@]})); then
	[[ $(id -u) -eq 0 ]] || die "missing packages ${need_pkgs[*]}: run as root or install them"
	log "installing ${need_pkgs[*]}"
	apt_update || die "apt-get update failed: cannot install ${need_pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2 ||
		die "installing ${need_pkgs[*]} failed"
fi
[[ $(id -u) -eq 0 ]] || die "must run as root (it writes $cache)"

work=$(mktemp -d /tmp/gadgetry-vmtest.XXXXXX) || die "cannot create a work directory"
trap 'rm -rf "$work"' EXIT

# --- kernels: resolve and fetch -------------------------------------------------------------
# Prints "<package> <version>" for a metapackage such as linux-image-amd64.
resolve_kernel() {
	local meta=$1 pkg ver
	pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	if [[ -z $pkg ]]; then
		apt_update || true
		pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	fi
	[[ -n $pkg ]] || return 1
	ver=$(apt-cache policy "$pkg" | awk '$1 == "Candidate:" { print $2 }')
	[[ -n $ver && $ver != "(none)" ]] || return 1
	echo "$pkg $ver"
}

# fetch_kernel <metapackage> <package> <version> <dir>: makes <dir> hold vmlinuz, config,
# release and modules/ (the .ko files of vmtest/modules and their dependencies, decompressed,
# with "order" listing the load order).
fetch_kernel() {
	local meta=$1 pkg=$2 ver=$3 dir=$4 tmp deb release m
	[[ -f $dir/ok ]] && return 0
	tmp=$(mktemp -d "$work/fetch.XXXXXX")
	log "fetching $pkg $ver"
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2) || {
		log "apt-get download $pkg=$ver failed"
		return 1
	}
	deb=$(ls "$tmp"/*.deb) || return 1
	mkdir -p "$tmp/x"
	dpkg-deb -x "$deb" "$tmp/x" || return 1
	release=$(ls "$tmp/x/lib/modules" | head -n1)
	rm -rf "$dir.new" && mkdir -p "$dir.new/modules" || return 1
	cp "$tmp/x/boot/vmlinuz-$release" "$dir.new/vmlinuz" || return 1
	cp "$tmp/x/boot/config-$release" "$dir.new/config" || return 1
	echo "$release" >"$dir.new/release"
	: >"$dir.new/modules/order"
	for m in $(conf modules); do
		add_module "$tmp/x/lib/modules/$release/kernel" "$m" "$dir.new/modules" || return 1
	done
	echo "$meta" >"$dir.new/meta"
	touch "$dir.new/ok"
	rm -rf "$dir" && mv "$dir.new" "$dir"
	rm -rf "$tmp"
	# Older packages the same metapackage pointed to are not needed any more.
	local old
	for old in "$cache"/*/meta; do
		[[ -f $old && $(dirname "$old") != "$dir" ]] || continue
		if [[ $(cat "$old") == "$meta" ]]; then
			log "removing the outdated $(dirname "$old")"
			rm -rf "$(dirname "$old")"
		fi
	done
}

# add_module <tree> <name> <out>: copies module <name> and, first, its dependencies.
add_module() {
	local tree=$1 name=$2 out=$3 f dep deps
	grep -qx "$name.ko" "$out/order" && return 0
	f=$(find "$tree" -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" -o -name "$name.ko.gz" | head -n1)
	if [[ -z $f ]]; then
		# Built in (=y) needs no file; the kernel config tells.
		log "module $name: no .ko in the package (built into the kernel?)"
		return 0
	fi
	case $f in
	*.xz) xz -dc "$f" >"$out/$name.ko" ;;
	*.zst) zstd -qdc "$f" >"$out/$name.ko" ;;
	*.gz) gzip -dc "$f" >"$out/$name.ko" ;;
	*) cp "$f" "$out/$name.ko" ;;
	esac || return 1
	deps=$(strings "$out/$name.ko" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' ')
	for dep in $deps; do
		add_module "$tree" "$dep" "$out" || return 1
	done
	echo "$name.ko" >>"$out/order"
}

# --- the initramfs common to every kernel ---------------------------------------------------
root=$work/root
build_root() {
	local failed=0 pkg pattern timeout dir name src obj
	mkdir -p "$root"/{bin,usr/bin,proc,sys,dev,tmp,root,etc,tests,lib/modules,sys/kernel/security}
	cp /bin/busybox "$root/bin/busybox" || return 1
	install -m 0755 "$here/vmtest/init" "$root/init" || return 1

	if ! (cd "$here" && CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w" -o "$root/usr/bin/gadgetry" ./cmd/gadgetry); then
		log "FAIL building the static gadgetry binary"
		failed=$((failed + 1))
	fi

	# Host programs the tests run (vmtest/binaries), in /usr/bin, with the shared libraries
	# ldd says they load, at the same paths.
	local bin path lib
	for bin in $(conf binaries); do
		if ! path=$(command -v "$bin"); then
			log "FAIL binary $bin (vmtest/binaries): not installed here"
			failed=$((failed + 1))
			continue
		fi
		cp "$path" "$root/usr/bin/$bin" || return 1
		for lib in $(ldd "$path" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
			mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib" || return 1
		done
	done

	: >"$root/tests/list"
	while read -r pkg pattern timeout; do
		name=$(echo "${pkg#./}" | tr '/' '_')
		dir=$root/tests/$name
		mkdir -p "$dir"
		if [[ ! -d $here/$pkg ]]; then
			log "FAIL package $pkg (vmtest/packages): no such directory"
			failed=$((failed + 1))
			continue
		fi
		if ! (cd "$here" && CGO_ENABLED=0 "$go" test -c -trimpath -ldflags "-s -w" -o "$dir/pkg.test" "$pkg"); then
			log "FAIL package $pkg: go test -c failed"
			failed=$((failed + 1))
			continue
		fi
		if [[ ! -x $dir/pkg.test ]]; then
			log "FAIL package $pkg: has no test files"
			failed=$((failed + 1))
			continue
		fi
		# The package directory's files but its Go sources (testdata/, gadget.yaml, built
		# objects, ...; symbolic links copied as the files they point to): the test binary runs from
		# this copy, as go test runs it from the source.
		if ! tar -C "$here/$pkg" --dereference --exclude='*.go' -cf - . | tar -C "$dir" -xf -; then
			log "FAIL package $pkg: copying its files"
			failed=$((failed + 1))
			continue
		fi
		if [[ -d $dir/testdata ]]; then
			for src in "$dir"/testdata/*.bpf.c; do
				[[ -e $src ]] || continue
				obj=${src%.c}.o
				# Keep in step with vmtest.BPFObject (vmtest/bpf.go).
				if ! "$clang" -target bpf -O2 -g -D__TARGET_ARCH_x86 -I"$here/gadgets/include" \
					-I"$(dirname "$src")" -c "$src" -o "$obj" || ! "$strip" -g "$obj"; then
					log "FAIL package $pkg: compiling $(basename "$src")"
					failed=$((failed + 1))
				fi
			done
		fi
		# What the package's VM tests build on the host (vmtest.Prepared: images built with
		# clang and Go, say): its TestVMPrepare, run here from the package's source directory
		# with the packed gadgetry, writes them into the packed copy's vmtest-prepared/.
		if grep -qs '^func TestVMPrepare(' "$here/$pkg"/*_test.go; then
			local plog=$work/prepare-$name.log pstart=$SECONDS
			if ! (cd "$here/$pkg" && GADGETRY_VMTEST_PREPARE="$dir/vmtest-prepared" GADGETRY_BIN="$root/usr/bin/gadgetry" \
				"$dir/pkg.test" -test.v -test.count=1 -test.run '^TestVMPrepare$' -test.timeout 10m >"$plog" 2>&1); then
				log "FAIL package $pkg: TestVMPrepare (building on the host what its VM tests need):"
				sed 's/^/    /' "$plog" >&2
				failed=$((failed + 1))
				continue
			fi
			if grep -q '^--- SKIP: TestVMPrepare' "$plog"; then
				log "package $pkg: TestVMPrepare skipped; the VM tests needing its files will fail:"
				sed 's/^/    /' "$plog" >&2
			fi
			log "package $pkg: TestVMPrepare built $(ls "$dir/vmtest-prepared" 2>/dev/null | wc -l) files in $((SECONDS - pstart))s"
		fi
		echo "$name ${timeout:-90s} $pattern" >>"$root/tests/list"
	done < <(conf packages)
	return "$failed"
}

# --- one boot ---------------------------------------------------------------------------------
passed=0 failed=0 skipped=0
summary=()

# count_results <log> <release> <expect>: adds the go test -v verdicts of a boot's log.
count_results() {
	local logf=$1 release=$2 expect=$3 p f s bad
	p=$(grep -c '^--- PASS: ' "$logf")
	f=$(grep -c '^--- FAIL: ' "$logf")
	s=$(grep -c '^--- SKIP: ' "$logf")
	grep -E '^--- (PASS|FAIL|SKIP): ' "$logf" | while read -r _ verdict name _; do
		echo "vmtest: $release: ${verdict%:} $name"
	done
	# A skip inside the VM fails in CI, unless internal/kernel.Require skipped for a feature
	# this kernel is not expected to have (its message, streamed just before the verdict by
	# go test -v, then reads "kernel <release> lacks ...").
	bad=$(awk '/^--- SKIP: / { if (prev !~ / lacks /) print $3 } { prev = $0 }' "$logf")
	if [[ -n $bad && ${CI:-} == true ]]; then
		for name in $bad; do
			echo "vmtest: $release: FAIL $name (skipped inside the VM; CI requires it to run)"
		done
		local n
		n=$(echo "$bad" | wc -w)
		f=$((f + n))
		s=$((s - n))
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	LAST_FAILS=$f
}

boot() {
	local meta=$1 expect=$2 line pkg ver dir release initrd logf rc m mods
	if ! line=$(resolve_kernel "$meta"); then
		log "FAIL $meta: apt cannot resolve it to a kernel package (check apt-cache policy $meta)"
		failed=$((failed + 1))
		summary+=("$meta: cannot resolve the kernel package")
		return
	fi
	read -r pkg ver <<<"$line"
	dir="$cache/${pkg}_${ver}"
	if ! fetch_kernel "$meta" "$pkg" "$ver" "$dir"; then
		log "FAIL $meta: cannot fetch $pkg $ver"
		failed=$((failed + 1))
		summary+=("$meta: cannot fetch $pkg $ver")
		return
	fi
	release=$(cat "$dir/release")

	# The per-kernel part of the initramfs, appended to the common archive (the kernel unpacks
	# concatenated cpio archives in order).
	local kroot=$work/k-$release
	rm -rf "$kroot" && mkdir -p "$kroot/etc" "$kroot/lib/modules"
	mods=
	while read -r m; do
		[[ -n $m ]] || continue
		cp "$dir/modules/$m" "$kroot/lib/modules/$m"
		mods="$mods $m"
	done <"$dir/modules/order"
	printf 'VMTEST_EXPECT=%q\nVMTEST_MODULES=%q\n' "$expect" "${mods# }" >"$kroot/etc/vmtest.conf"
	initrd=$work/initrd-$release
	cp "$work/common.cpio" "$initrd"
	(cd "$kroot" && find . -mindepth 1 | cpio -o -H newc --quiet) >>"$initrd"

	# lsm=: the LSMs this kernel's CONFIG_LSM knows, in its order, keeping only ones that need
	# no policy, then bpf.
	local lsm
	lsm=$(sed -n 's/^CONFIG_LSM="\(.*\)"/\1/p' "$dir/config" | tr ',' '\n' |
		grep -xE 'lockdown|capability|landlock|yama|apparmor' | paste -sd, -)
	lsm="${lsm:+$lsm,}bpf"

	log "booting $pkg $ver ($release), lsm=$lsm"
	logf=$work/log-$release
	local start=$SECONDS
	# TCG, never KVM (it hangs here). thread=single: two vCPUs, but run by one host thread.
	# Multi-threaded TCG races the kernel's live code patching (text_poke when tracepoints and
	# static keys flip), which showed as an int3 oops in syscall_exit_to_user_mode_prepare
	# while syscall tracepoints were attached and detached on 6.12.
	timeout -k 5 "$boot_timeout" qemu-system-x86_64 -accel tcg,thread=single -m 1G -smp 2 -nographic -no-reboot -nic none \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-kernel "$dir/vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 quiet loglevel=4 panic=-1 lsm=$lsm" </dev/null 2>&1 |
		tr -d '\r' | sed -u -E 's/\x1b(\[[0-9;?]*[a-zA-Z]|c)//g' | tee "$logf" | sed -u "s/^/[$release] /"
	rc=${PIPESTATUS[0]}
	local took=$((SECONDS - start))

	count_results "$logf" "$release" "$expect"
	case $rc in
	1) summary+=("$release ($pkg $ver): tests passed, ${took}s") ;;
	3)
		summary+=("$release ($pkg $ver): tests FAILED, ${took}s")
		((LAST_FAILS > 0)) || failed=$((failed + 1))
		;;
	124 | 137)
		summary+=("$release ($pkg $ver): boot TIMED OUT after ${boot_timeout}s")
		failed=$((failed + 1))
		;;
	*)
		summary+=("$release ($pkg $ver): qemu exited $rc before the tests reported (kernel panic or init failure)")
		failed=$((failed + 1))
		;;
	esac
	if ((LAST_FAILS > 0)) && [[ $rc == 1 ]]; then
		# Only possible with the CI skip rule: the guest passed but a skip was not allowed.
		summary[-1]="$release ($pkg $ver): tests FAILED (skips in CI), ${took}s"
	fi
}

# --- main -----------------------------------------------------------------------------------
mkdir -p "$cache" || die "cannot create $cache"
build_root
build_failed=$?
failed=$((failed + build_failed))
(cd "$root" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$work/common.cpio" || die "packing the initramfs failed"
log "initramfs: $(du -h "$work/common.cpio" | cut -f1) common part"

declare -A expect_of
kernels=()
while read -r meta expect; do
	kernels+=("$meta")
	expect_of[$meta]=${expect:-all}
done < <(conf kernels)
if (($#)); then kernels=("$@"); fi
for meta in "${kernels[@]}"; do
	boot "$meta" "${expect_of[$meta]:-all}"
done

for s in "${summary[@]}"; do log "$s"; done
echo "vmtest: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
