# AArch64 NEON: `make check-neon` cross-compiles the kernel-facing tests for aarch64 (plain ARMv8-A NEON,
# and ARMv8.2-A with the dot-product extension) and runs them under qemu-aarch64 user emulation, so the
# NEON kernels are checked bit for bit against the generic ones on a real AArch64 instruction set.
# Debian packages: gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user.
NEON_CC     ?= aarch64-linux-gnu-gcc
NEON_QEMU   ?= qemu-aarch64
NEON_SYSROOT ?= /usr/aarch64-linux-gnu
NEON_TESTS  := test_core test_fp16 \
               $(sort $(notdir $(basename $(wildcard tests/unit/test_formats_*.c tests/unit/test_kernels_*.c))))
NEON_FLAVORS := armv8-a armv8.2-a+dotprod

.PHONY: check-neon
check-neon:
	@for fl in $(NEON_FLAVORS); do \
	    out=$(BUILD)/neon-$$fl; \
	    $(MAKE) -s O=$$out CC=$(NEON_CC) OPENMP=0 EXTRA_CFLAGS="-march=$$fl" \
	        $(addprefix $$out/build/tests-noomp/,$(NEON_TESTS)) || exit 1; \
	done
	@QEMU="$(NEON_QEMU)" SYSROOT="$(NEON_SYSROOT)" BUILD="$(BUILD)" FLAVORS="$(NEON_FLAVORS)" \
	    TESTS="$(NEON_TESTS)" sh tests/neon_run.sh
