# kernels: `make bench` runs the GEMV/GEMM benchmark (BENCH_QUICK=1: a short run, well under a minute).
BENCH_KERNELS := $(BUILD)/bench-$(VARIANT)/bench_kernels

$(BENCH_KERNELS): bench/bench_kernels.c tests/kernels_testpack.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $< -o $@ $(PROG_LDLIBS)

bench: lib $(BENCH_KERNELS)
	BENCH_QUICK=$(BENCH_QUICK) $(BENCH_KERNELS)

# `make bench-one ARGS="b1 4096 4096"`: one format and shape, best-of-batches time and a checksum, for
# comparing two builds in alternating runs (bench/bench_one.c; BENCH_THREADS, BENCH_COPIES, ... as there).
BENCH_ONE := $(BUILD)/bench-$(VARIANT)/bench_one

$(BENCH_ONE): bench/bench_one.c tests/kernels_testpack.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $< -o $@ $(PROG_LDLIBS)

.PHONY: bench-one
bench-one: lib $(BENCH_ONE)
	$(BENCH_ONE) $(if $(ARGS),$(ARGS),b1)
