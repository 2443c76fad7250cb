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

.PHONY: all deps configure test demo bench clean format fuzz

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

# libFuzzer targets (tests/fuzz), each for FUZZ_SECONDS (default 60).
fuzz:
	@tools/fuzz.sh

bench: all
	@tools/deps.sh bench
	@bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
