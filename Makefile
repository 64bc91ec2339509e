# Thin wrapper over CMake.  The Release build lives in build/, the Sanitize
# (ASan+UBSan, clang) build that the tests run under in build/sanitize/, and
# the Debug build in build/debug/.
#
#   make          build Release (build/samskap-broker, build/samskap-node, build/samskap)
#   make demo     install missing packages, build, run the demo on loopback
#   make check    build the Sanitize tree and run every test (ctest)
#   make bench    build Release and run the benchmarks
#   make fuzz     run every fuzzer for FUZZ_SECONDS (default 300)
#   make debug    build the Debug tree

JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE     ?= cmake
CTEST_ARGS ?=
FUZZ_SECONDS ?= 300

.PHONY: all release debug sanitize demo check bench fuzz deps clean

all: release

release:
	@$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@$(CMAKE) --build build -j $(JOBS)

debug:
	@$(CMAKE) -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@$(CMAKE) --build build/debug -j $(JOBS)

sanitize:
	@CC=clang-14 $(CMAKE) -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Sanitize >/dev/null
	@$(CMAKE) --build build/sanitize -j $(JOBS)

deps:
	@sh deploy/install-deps.sh

demo: deps release
	@sh deploy/demo.sh build

check: sanitize
	@cd build/sanitize && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

bench: release
	@sh bench/run-all.sh build

fuzz: sanitize
	@cd build/sanitize && SAMSKAP_FUZZ_SECONDS=$(FUZZ_SECONDS) ctest -L fuzz --output-on-failure -j $(JOBS)

clean:
	rm -rf build
