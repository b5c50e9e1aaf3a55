# Gadgetry. The two commands a new machine needs are `make demo` and `make test`; both install
# what is missing first (scripts/setup.sh, idempotent and quick when nothing is missing).

GO        ?= go
BIN       := bin/gadgetry
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null)
GOFLAGS_B := -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
export PATH := $(CURDIR)/bin:$(PATH)

.PHONY: all setup build demo test test-host test-modules test-fuzz test-stress vet fmt-check gadgets check-generated vmtest bench bench-ci clean test-k8s image

all: build

setup:
	@scripts/setup.sh

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_B) -o $(BIN) ./cmd/gadgetry

# Builds, then runs trace_exec for a few seconds while something execs. Needs only Go and
# the kernel mounts (setup.sh --demo): not the test tools (clang, registry, oras, cosign).
demo: build
	@scripts/setup.sh --demo
	@scripts/demo.sh

# Every test: vet and format checks, host tests (real kernel, registry, containers), short
# fuzzing, the generated-objects check, the kernel tests inside qemu, and the benchmarks
# (figures printed, written to build/benchmarks.md; a burst that loses events fails).
test: setup vet fmt-check build test-host test-modules test-fuzz check-generated vmtest test-k8s bench-ci

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt'ed: $$out"; exit 1; fi

test-host:
	$(GO) test -count=1 -timeout 20m ./...

# The Kubernetes tests (every TestK8s… of the packages importing internal/k8stest) on a real
# single-node cluster made on this machine, then its teardown on SIGTERM (docs/kubernetes.md).
# The first run builds the Kubernetes binaries into .cache/k8s (minutes); later runs reuse them.
test-k8s:
	@scripts/setup.sh --k8s
	@scripts/k8s/test.sh

# Gadgetry's container image, assembled without Docker from the static binary: an OCI image
# layout tarball for `ctr images import` / `podman load`, and pushed when PUSH names a
# registry reference (IMAGE_FLAGS=-insecure for a plain-HTTP registry).
IMAGE ?= gadgetry:dev
IMAGE_TAR ?= build/gadgetry-image.tar
image: build
	$(GO) run ./internal/selfimage/mkimage -binary $(BIN) -name $(IMAGE) -o $(IMAGE_TAR) $(if $(PUSH),-push $(PUSH)) $(IMAGE_FLAGS)

# The nested modules (wasmapi, gadgets' WASM sources) that `go test ./...` does not reach.
test-modules:
	@scripts/test-modules.sh

test-fuzz:
	@scripts/fuzz.sh 10s

# Not part of test (it takes hours): the kernel, WASM, registry and container tests -count=20
# while stress-ng keeps every CPU busy, so a test that decides by timing shows. One part:
# make test-stress STRESS_PACKAGES=./runtime/wasm
test-stress: setup
	@scripts/stress.sh $(STRESS_PACKAGES)

# Rebuilds the built-in gadgets' objects (clang, Go for WASM) from their sources.
gadgets:
	@scripts/build-gadgets.sh

# Fails when the committed built-in gadget objects differ from what their sources build, or
# api/v1's generated Go code from what gadgetry.proto generates.
check-generated:
	@scripts/build-gadgets.sh --check
	$(GO) test -count=1 -run '^TestGenerated$$' ./api/v1

vmtest: build
	@scripts/vmtest.sh

# Rewrites docs/benchmarks.md.
bench: build
	@scripts/setup.sh --k8s
	@bench/run.sh

# The same benchmarks with fewer rounds, for CI: the report goes to build/benchmarks.md. Three
# rounds of the exec slowdown (a minute each) keep a fresh machine's make test under 45 minutes;
# the figures in docs/benchmarks.md come from make bench.
bench-ci: build
	@BENCH_OUT=build/benchmarks.md BENCH_ROUNDS=3 TRACELOOP_ROUNDS=2 TOOLCHAIN_ROUNDS=1 BLOCK_EXEC_ROUNDS=2 \
		WASMRATE_ROUNDS=1 STOPLAT_RUNS=2 STOPLAT_RSS=10 K8S_ROUNDS=1 bench/run.sh

clean:
	rm -rf bin/gadgetry
