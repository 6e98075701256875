# pyfw.mk - the single-file distribution (make amalgamate) and the freestanding firmware builds
# (make firmware). Python tests run from tests/checks/python.sh inside `make check`.

# ---- amalgamation: dist/qlow.c + dist/qlow.h ------------------------------------------------------
.PHONY: amalgamate firmware firmware-host firmware-qemu firmware-sizes
AMALG_INPUTS := tools/amalgamate.py include/qlow.h $(SRCS) $(wildcard src/*/*.h src/*/*.def)

amalgamate: $(O)/dist/qlow.c
$(O)/dist/qlow.c: $(AMALG_INPUTS)
	python3 tools/amalgamate.py . $(O)/dist

# ---- firmware ---------------------------------------------------------------------------------------
# examples/firmware/build.sh builds the kernel subset (src/core, src/formats, src/kernels) freestanding
# for one target, checks its undefined symbols with nm -u and links the example. Targets: cm4, cm7 (arm-
# none-eabi-gcc), rv32 (riscv64-unknown-elf-gcc, when installed) and host (the same freestanding build
# with the host compiler, runnable). The example's flash matrix comes from the generator below.
FW_DIR     := $(BUILD)/firmware
FW_HAVE_RV := $(shell command -v riscv64-unknown-elf-gcc >/dev/null 2>&1 && echo 1)
FW_TARGETS ?= cm4 cm7 $(if $(FW_HAVE_RV),rv32)
FW_MODEL   := $(FW_DIR)/fw_model.c
FW_GEN     := $(FW_DIR)/fw_gen
FW_SOURCES  = $(wildcard src/core/*.c src/formats/*.c src/kernels/*.c src/*/*.h) \
              $(wildcard examples/firmware/*.c examples/firmware/*.h examples/firmware/*.sh)

$(FW_GEN): examples/firmware/fw_gen.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $< -o $@ $(PROG_LDLIBS)

$(FW_MODEL): $(FW_GEN) data/stories260K.bin
	$(FW_GEN) data/stories260K.bin $@

# The example needs the kernels' workspace GEMV; without it only the library subset is built and checked.
FW_HAVE_GEMV := $(shell grep -q qlow_gemv_ws include/qlow.h && echo 1)
FW_MODEL_DEP := $(if $(FW_HAVE_GEMV),$(FW_MODEL))

$(FW_DIR)/%/stamp: $(FW_MODEL_DEP) $(FW_SOURCES)
	sh examples/firmware/build.sh $* $(FW_DIR)/$* $(FW_MODEL_DEP)
	@$(if $(FW_HAVE_GEMV),,echo "SKIP $*: example not built (no qlow_gemv_ws in include/qlow.h)")
	@touch $@

firmware: $(foreach t,$(FW_TARGETS),$(FW_DIR)/$(t)/stamp)
	@sh examples/firmware/sizes.sh $(FW_DIR) $(FW_TARGETS)

firmware-host: $(FW_DIR)/host/stamp
	$(if $(FW_HAVE_GEMV),$(FW_DIR)/host/fw_host,@echo "SKIP firmware-host: no example without qlow_gemv_ws")

firmware-qemu: $(FW_DIR)/cm4/stamp $(FW_DIR)/cm7/stamp
	$(if $(FW_HAVE_GEMV),sh examples/firmware/run_qemu.sh $(FW_DIR),@echo "SKIP firmware-qemu: no example without qlow_gemv_ws")
