# Thin wrapper around CMake. `make` builds build/faultline, `make test` runs
# the whole ctest suite, `make demo` runs the demo scenario.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
ifeq ($(CI),true)
CMAKE_FLAGS += -DFL_WERROR=ON
endif
ifdef FL_SANITIZE
CMAKE_FLAGS += -DFL_SANITIZE=$(FL_SANITIZE)
endif

.PHONY: all deps configure test demo bench clean format fuzz stress

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@tools/deps.sh build

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

test: configure
	@tools/deps.sh test
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

demo: all
	@$(BUILD)/faultline run scenarios/demo/kvnode.lua

# libFuzzer targets (tests/fuzz), each for FUZZ_RUNS executions (default
# 10^6) and at most FUZZ_SECONDS (default 3600).
fuzz:
	@tools/deps.sh fuzz
	@tools/fuzz.sh

# The demo, its unsafe twin, every pack and the clock scenario, STRESS_N
# times each (default 10) on a loaded machine: tools/stress.sh. Not part of
# `make test`; exit 1 on a false alarm or a missed finding.
stress: all
	@tools/deps.sh test
	@BUILD=$(BUILD) tools/stress.sh

bench: all
	@tools/deps.sh bench
	@bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
