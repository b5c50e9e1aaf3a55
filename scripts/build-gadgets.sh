#!/bin/sh
# Builds the built-in gadgets (every gadgets/*/ with a gadget.yaml) into the OCI image layout
# gadgets/catalogue, which the gadgetry binary embeds. Deterministic (SOURCE_DATE_EPOCH=0): the
# committed layout can be checked against its sources.
#
#   scripts/build-gadgets.sh           rebuild gadgets/catalogue (make gadgets)
#   scripts/build-gadgets.sh --check   fail if gadgets/catalogue differs from its sources
#                                      (make check-generated)
#   scripts/build-gadgets.sh -v        show each build step
#
# Needs go and clang (clang-19, or $CLANG) with llvm-strip.
set -eu
cd "$(dirname "$0")/.."

export SOURCE_DATE_EPOCH=0
args=""
for a in "$@"; do
	case "$a" in
	--check | -check) args="$args -check" ;;
	-v | --verbose) args="$args -v" ;;
	-h | --help)
		sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build-gadgets.sh: unknown argument $a (use --check, -v)" >&2
		exit 2
		;;
	esac
done
# shellcheck disable=SC2086
exec go run ./oci/build/internal/buildcatalogue -gadgets gadgets -out gadgets/catalogue $args
