# hessian/gptq/plan helper programs: `make bench-hessian` builds and runs the X^T X and GPTQ speed bench.
HESSIAN_BENCH := $(BUILD)/bench-$(VARIANT)/hessian_bench

$(HESSIAN_BENCH): bench/hessian_bench.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $< -o $@ $(PROG_LDLIBS)

.PHONY: bench-hessian
bench-hessian: $(HESSIAN_BENCH)
	$(HESSIAN_BENCH) $(or $(THREADS),2)
