# PTQ1.61 programs: `make bench-ptq161` times the full layer pipeline on a 4096 x 4096 layer.
PTQ161_BENCH := $(BUILD)/bench-$(VARIANT)/ptq161_bench

$(PTQ161_BENCH): bench/ptq161_bench.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $< -o $@ $(PROG_LDLIBS)

.PHONY: bench-ptq161
bench-ptq161: $(PTQ161_BENCH)
	$(PTQ161_BENCH) 4096 4096 2048 2

# End-to-end perplexity of the PTQ1.61 ablation stages on stories260K (`make ppl-ptq161`).
PTQ161_PPL := $(BUILD)/bench-$(VARIANT)/ptq161_ppl

$(PTQ161_PPL): bench/ptq161_ppl.c tests/ptq161_data.h tests/stories_forward.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $< -o $@ $(PROG_LDLIBS)

.PHONY: ppl-ptq161
ppl-ptq161: $(PTQ161_PPL)
	$(PTQ161_PPL)
