# PTQ1.61 programs: `make bench-ptq161` times the full layer pipeline on a 4096 x 4096 layer.
PTQ161_BENCH := $(BUILD)/bench-$(VARIANT)/ptq161_bench

$(PTQ161_BENCH): bench/ptq161_bench.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $< -o $@ $(PROG_LDLIBS)

.PHONY: bench-ptq161
bench-ptq161: $(PTQ161_BENCH)
	$(PTQ161_BENCH) 4096 4096 2048 2
