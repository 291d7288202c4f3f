# Takt — the two commands of the quick start, and the rest.
#   make test   install what is missing, build, run the whole test suite
#   make demo   install, build release binaries, run simulator + daemon, print a capacity plan
#   make bench  end-to-end, in-process and planning benchmarks → docs/BENCHMARKS.md (~10 min)
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: deps build test release demo bench clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

# Build first (executables too: integration tests run the real binaries), then run the suite.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo:
	@scripts/demo.sh

# Release build in its own scratch path (.build-bench), broker on loopback; medians of RUNS=3.
bench: deps
	@scripts/bench.sh

release: deps
	$(SWIFT) build -c release

clean:
	rm -rf .build
