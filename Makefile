# Takt — the two commands of the quick start, and the rest.
#   make test   install what is missing, build, run the whole test suite
#   make demo   install, build release binaries, run simulator + daemon, print a capacity plan
#   make bench  end-to-end, in-process and planning benchmarks → docs/BENCHMARKS.md (~10 min)
#   make lint   swift-format's rules (.swift-format) over every Swift file (~1 s; docs/lint.md)
#   make fuzz   the stateful fuzzer over the aggregator and the decoders (Tests/Fuzz; ~8 min on 2 cores)
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: deps build test lint release demo demo-ha bench bench-shared fuzz clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

# Build first (executables too: integration tests run the real binaries), then run the suite.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# swift-format ships with the Swift toolchain (`swift format`); nothing is installed. The rules
# are in .swift-format. --debug-disable-pretty-print: lint the rules only, not the layout (the
# code keeps its own alignment; swift-format cannot switch its layout findings off in the
# configuration). Why each rule is on or off: docs/lint.md.
LINT_PATHS := Sources Simulators Tests Benchmarks Package.swift
lint:
	@$(SWIFT) format --version >/dev/null 2>&1 || { \
		echo "make lint: '$(SWIFT) format' is missing; it ships with the Swift 6.1+ toolchain (swift-format)" >&2; exit 1; }
	$(SWIFT) format lint --strict --recursive --debug-disable-pretty-print $(LINT_PATHS)

demo:
	@DIALECT="$(DIALECT)" scripts/demo.sh

# Release build in its own scratch path (.build-bench), broker on loopback; medians of RUNS=3.
bench: deps
	@scripts/bench.sh
	@scripts/bench-shared.sh

# One PostgreSQL daemon against the SQLite one, and 1, 2, 3 daemons sharing lines (issue 12).
bench-shared: deps
	@scripts/bench-shared.sh

# Three daemons on one local PostgreSQL, one killed and restarted mid-run; prints the plan.
demo-ha:
	@scripts/demo-ha.sh

# The stateful fuzzer (issue 11): a release takt-fuzz in its own scratch path (.build-fuzz), built
# under the shared build lock; fixed seeds, so a run is reproducible and a failure names a case
# seed that `.build-fuzz/release/takt-fuzz case SEED` replays step by step (`minimize SEED`
# shrinks it). Both runs always run; the target fails if either found something.
FUZZ_SEED ?= 20261101
FUZZ_SEQUENCES ?= 1000000
FUZZ_DECODERS ?= 10000000
BUILD_LOCK ?= /tmp/swift-build.lock
fuzz:
	flock $(BUILD_LOCK) $(SWIFT) build -c release --product takt-fuzz --scratch-path .build-fuzz
	@status=0; \
	.build-fuzz/release/takt-fuzz sequences $(FUZZ_SEQUENCES) --seed $(FUZZ_SEED) || status=1; \
	.build-fuzz/release/takt-fuzz decoders $(FUZZ_DECODERS) --seed $(FUZZ_SEED) || status=1; \
	exit $$status

release: deps
	$(SWIFT) build -c release

clean:
	rm -rf .build
