# mk/reliab.mk - reliability gates (issue 8): libFuzzer targets, TSan, Valgrind memcheck, ABI baseline.
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="params qlow"]  each target for a bounded time, clang ASan+UBSan
#   make fuzz-build                                          only build the fuzzers (build/fuzz/bin/)
#   make tsan                                                unit tests under ThreadSanitizer (clang, OpenMP)
#   make valgrind                                            unit tests under memcheck (no OpenMP)
#   make abi-baseline                                        regenerate tests/abi/libqlow.abixml (deliberate)
#   make abi-check                                           abidiff gate only (also part of `make check`)
# Every variant builds into its own output root under $(BUILD), so the default build is never disturbed.

RELIAB_ROOT   := $(BUILD)/reliab
FUZZ_SECONDS  ?= 60
FUZZ_TARGETS  ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_CC       ?= clang

.PHONY: fuzz fuzz-build fuzz-cov fuzz-seeds tsan valgrind abi-baseline abi-check

fuzz-build:
	@FUZZ_CC="$(FUZZ_CC)" FUZZ_ROOT="$(RELIAB_ROOT)/fuzz" MAKE="$(MAKE)" bash mk/reliab_fuzz.sh build $(FUZZ_TARGETS)

fuzz: fuzz-build
	@FUZZ_CC="$(FUZZ_CC)" FUZZ_ROOT="$(RELIAB_ROOT)/fuzz" FUZZ_SECONDS="$(FUZZ_SECONDS)" MAKE="$(MAKE)" \
	    bash mk/reliab_fuzz.sh run $(FUZZ_TARGETS)

# TSan needs every thread-creating runtime to be visible to it: libomp's archer tool supplies the OpenMP
# synchronization semantics, ignore_noninstrumented_modules skips libomp's own (uninstrumented) internals.
TSAN_ROOT := $(RELIAB_ROOT)/tsan
# A test that does not compile with clang is reported and fails the target, but the others still run.
tsan:
	@$(MAKE) -s -k --no-print-directory O=$(TSAN_ROOT) CC=clang OPENMP=1 SAN=thread tests; built=$$?; \
	TSAN_OPTIONS="halt_on_error=1 ignore_noninstrumented_modules=1 second_deadlock_stack=1" \
	    OMP_TOOL_LIBRARIES="$$(clang -print-file-name=libarcher.so 2>/dev/null | grep / || echo /usr/lib/llvm-14/lib/libarcher.so)" \
	    bash mk/reliab_run.sh tsan $(TSAN_ROOT)/build/tests-omp-san/*; ran=$$?; \
	[ $$built -eq 0 ] || echo "FAIL tsan: some unit tests do not build with clang (see above)"; \
	[ $$built -eq 0 ] && [ $$ran -eq 0 ]

# Valgrind runs the plain gcc build without OpenMP: libgomp keeps its thread pool alive at exit (reported
# as "possibly lost"), and threads are TSan's job. Zero errors and zero leaks of any kind.
VALGRIND_ROOT := $(RELIAB_ROOT)/valgrind
VALGRIND_FLAGS := --error-exitcode=99 --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
                  --track-origins=yes --quiet
valgrind:
	@$(MAKE) -s --no-print-directory O=$(VALGRIND_ROOT) OPENMP=0 OPT=-O1 tests
	@RELIAB_WRAP="valgrind $(VALGRIND_FLAGS)" bash mk/reliab_run.sh valgrind $(VALGRIND_ROOT)/build/tests-noomp/*

# The ABI baseline is the abidw dump of the shared library as built by default (-g), restricted to the
# types of the public header. Regenerate it only together with a deliberate ABI decision (see tests/abi/README.md).
abi-baseline: $(SHARED)
	abidw --headers-dir include --drop-private-types --no-corpus-path --no-comp-dir-path --no-elf-needed \
	    --out-file tests/abi/libqlow.abixml $(SHARED)
	@echo "tests/abi/libqlow.abixml regenerated for $(SONAME); commit it with the ABI change"

abi-check: $(SHARED)
	@QLOW_LIBOUT=$(LIBOUT) sh tests/checks/abi_baseline.sh

# Line coverage reached by each target's corpus (after `make fuzz`), via clang source-based coverage.
fuzz-cov:
	@FUZZ_CC="$(FUZZ_CC)" FUZZ_ROOT="$(RELIAB_ROOT)/fuzz" MAKE="$(MAKE)" bash mk/reliab_fuzz.sh cov $(FUZZ_TARGETS)

# Seed corpora from real files: `make fuzz-seeds` regenerates tests/fuzz/corpus/* (deterministic).
$(BUILD)/reliab/gen_seeds: tests/fuzz/gen_seeds.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $< -o $@ $(PROG_LDLIBS)
fuzz-seeds: $(BUILD)/reliab/gen_seeds
	mkdir -p $(addprefix tests/fuzz/corpus/,qmatrix qlow llama2c safetensors tokenizer)
	$(BUILD)/reliab/gen_seeds tests/fuzz/corpus

# The replay test includes the fuzz targets' sources.
$(BUILD)/tests-$(VARIANT)/test_reliab_regress: $(wildcard tests/fuzz/*.c tests/fuzz/*.h)
