# pyfw.mk - the single-file distribution (make amalgamate) and the freestanding firmware builds
# (make firmware). Python tests run from tests/checks/python.sh inside `make check`.

# ---- amalgamation: dist/qlow.c + dist/qlow.h ------------------------------------------------------
.PHONY: amalgamate firmware firmware-host firmware-qemu firmware-sizes
AMALG_INPUTS := tools/amalgamate.py include/qlow.h $(SRCS) $(wildcard src/*/*.h src/*/*.def)

amalgamate: $(O)/dist/qlow.c
$(O)/dist/qlow.c: $(AMALG_INPUTS)
	python3 tools/amalgamate.py . $(O)/dist

# ---- firmware ---------------------------------------------------------------------------------------
# The kernel subset: core (status, views, fp16, static ctx), formats (layouts, wrapping caller memory),
# kernels (packed GEMV/GEMM, dequantize). Built with -ffreestanding -nostdlib, no malloc, no stdio, no
# OpenMP, against examples/firmware/libc/string.h only. One build per target in $(FW_TARGETS).
FW_DIR      := $(BUILD)/firmware
FW_SRCS      = $(sort $(wildcard src/core/*.c src/formats/*.c src/kernels/*.c))
FW_EXCLUDE  ?=
FW_LIB_SRCS  = $(filter-out $(FW_EXCLUDE),$(FW_SRCS))
FW_COMMON   := -std=c11 -Os -g -ffreestanding -nostdlib -ffunction-sections -fdata-sections \
               -DQLOW_FREESTANDING -DQLOW_NO_MALLOC \
               -Iexamples/firmware/libc -Iinclude -Isrc $(WARN) -Wdouble-promotion

ARM_CC      ?= arm-none-eabi-gcc
RV_CC       ?= riscv64-unknown-elf-gcc
FW_FLAGS_cm4   := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
FW_FLAGS_cm7   := -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16
FW_FLAGS_rv32  := -march=rv32imafc -mabi=ilp32f -mcmodel=medany
FW_CC_cm4   := $(ARM_CC)
FW_CC_cm7   := $(ARM_CC)
FW_CC_rv32  := $(RV_CC)
FW_NM_cm4   := $(ARM_CC:gcc=nm)
FW_NM_cm7   := $(ARM_CC:gcc=nm)
FW_NM_rv32  := $(RV_CC:gcc=nm)
FW_HAVE_RV  := $(shell command -v $(RV_CC) >/dev/null 2>&1 && echo 1)
FW_TARGETS  ?= cm4 cm7 $(if $(FW_HAVE_RV),rv32)

# $(call fw_objs,TARGET): the library objects of one target.
fw_objs = $(FW_LIB_SRCS:%.c=$(FW_DIR)/$(1)/obj/%.o)

define FW_TARGET_RULES
$(FW_DIR)/$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(FW_CC_$(1)) $$(FW_FLAGS_$(1)) $$(FW_COMMON) -c $$< -o $$@

$(FW_DIR)/$(1)/libqlow_fw.a: $$(call fw_objs,$(1))
	rm -f $$@
	$$(FW_CC_$(1):gcc=ar) rcs $$@ $$^

$(FW_DIR)/$(1)/libqlow_fw.o: $$(call fw_objs,$(1))
	$$(FW_CC_$(1)) $$(FW_FLAGS_$(1)) -nostdlib -r $$^ -o $$@
endef
$(foreach t,cm4 cm7 rv32,$(eval $(call FW_TARGET_RULES,$(t))))

FW_LIBS = $(foreach t,$(FW_TARGETS),$(FW_DIR)/$(t)/libqlow_fw.a $(FW_DIR)/$(t)/libqlow_fw.o)

# Cross builds, the undefined-symbol check and the size table.
firmware: $(FW_LIBS)
	@$(foreach t,$(FW_TARGETS),sh examples/firmware/check_undefined.sh $(FW_NM_$(t)) $(FW_DIR)/$(t)/libqlow_fw.o $(t) &&) true
	@sh examples/firmware/sizes.sh $(FW_DIR) $(FW_TARGETS)
