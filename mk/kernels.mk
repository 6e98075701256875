# kernels: `make bench` runs the GEMV/GEMM benchmark (BENCH_QUICK=1: a short run, well under a minute).
BENCH_KERNELS := $(BUILD)/bench-$(VARIANT)/bench_kernels

$(BENCH_KERNELS): bench/bench_kernels.c tests/kernels_testpack.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $< -o $@ $(PROG_LDLIBS)

bench: lib $(BENCH_KERNELS)
	BENCH_QUICK=$(BENCH_QUICK) $(BENCH_KERNELS)
