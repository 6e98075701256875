# quant helper: the issue-2 table of every quantization primitive on the bundled stories260K model.
QUANT_TABLE := $(BUILD)/examples/quant_table

$(QUANT_TABLE): examples/quant_table/quant_table.c $(STATIC) include/qlow.h
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $< -o $@ $(PROG_LDLIBS)

.PHONY: quant-table
quant-table: $(QUANT_TABLE)
	$(QUANT_TABLE) data/stories260K.bin data/tok512.bin data/tinystories_validation_head.txt
