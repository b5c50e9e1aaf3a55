#!/usr/bin/env bash
# Downloads (never installs) the newest Linux kernel headers Debian bookworm ships — the
# linux-headers-<6.x>-common and -amd64 packages of the newest kernel series apt knows (6.12 via
# bookworm's updates today) — unpacks them under a cache and prints the unpacked root. The
# syscall table generator (runtime/syscalls/internal/gen -uapi DIR) reads newer syscall numbers
# from them than linux-libc-dev (6.1) has. Idempotent: a cached version is reused.
#
# Usage: scripts/fetch-uapi.sh [CACHE_DIR]   (default /var/cache/gadgetry/uapi)
set -euo pipefail
cache=${1:-/var/cache/gadgetry/uapi}
log() { echo "fetch-uapi: $*" >&2; }

# The newest linux-headers-<ver>+deb12-common (version order, not name order).
common=$(apt-cache pkgnames linux-headers- | grep -E '^linux-headers-[0-9.]+\+deb12-common$' |
	sort -V | tail -1)
if [[ -z $common ]]; then
	log "apt knows no linux-headers-*+deb12-common package; run apt-get update"
	exit 1
fi
abi=${common#linux-headers-}
abi=${abi%-common}
arch=linux-headers-$abi-amd64
ver=$(apt-cache policy "$common" | awk '$1 == "Candidate:" { print $2 }')
dir=$cache/$abi-$ver
if [[ ! -f $dir/.done ]]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	log "downloading $common=$ver and $arch=$ver"
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$common=$ver" "$arch=$ver" >&2)
	mkdir -p "$dir"
	for deb in "$tmp"/*.deb; do
		dpkg-deb -x "$deb" "$dir"
	done
	printf '%s %s\n' "$common" "$ver" >"$dir/.done"
fi
echo "$dir"
