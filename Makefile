# libqlow - GNU make build. `make` builds lib/, `make check` runs every test, `make demo` the main job.
# Options: O=DIR (output root, default .), OPENMP=0|1, SAN=address,undefined, NO_MALLOC=1,
#          FORCE_GENERIC=1, CC=..., PREFIX=... (install).
# Meson (meson.build) builds the same libraries from the same sources.

ABI_VERSION   := 1
LIB_VERSION   := $(ABI_VERSION).0.0
RELEASE       := $(shell sed -n 's/^\#define QLOW_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)/\2/p' include/qlow.h | paste -sd.)

O       ?= .
CC      ?= cc
CXX     ?= c++
PREFIX  ?= /usr/local
LIBDIR_INSTALL ?= $(PREFIX)/lib
OPENMP  ?= $(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo 1 || echo 0)
SAN     ?=

LIBOUT  := $(O)/lib
BUILD   := $(O)/build
VARIANT := $(if $(filter 1,$(OPENMP)),omp,noomp)$(if $(SAN),-san)$(if $(NO_MALLOC),-nomalloc)$(if $(FORCE_GENERIC),-generic)
OBJDIR  := $(BUILD)/obj-$(VARIANT)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith -Wvla -Wundef \
           -Wformat=2 -Winit-self -Wwrite-strings -Wcast-qual -Wdeclaration-after-statement-unused
WARN    := $(filter-out -Wdeclaration-after-statement-unused,$(WARN))
OPT     ?= -O2
CPPFLAGS_LIB := -Iinclude -Isrc $(if $(NO_MALLOC),-DQLOW_NO_MALLOC) $(if $(FORCE_GENERIC),-DQLOW_FORCE_GENERIC)
SANFLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
OMPFLAGS := $(if $(filter 1,$(OPENMP)),-fopenmp)
CFLAGS_LIB := -std=c11 $(OPT) -g -fPIC -fvisibility=hidden $(WARN) $(SANFLAGS) $(OMPFLAGS) $(EXTRA_CFLAGS)
LDLIBS_LIB := -lm $(OMPFLAGS)

SRCS    := $(sort $(wildcard src/*/*.c))
OBJS    := $(SRCS:%.c=$(OBJDIR)/%.o)
DEPS    := $(OBJS:.o=.d)

STATIC  := $(LIBOUT)/libqlow.a
SHARED  := $(LIBOUT)/libqlow.so.$(LIB_VERSION)
SONAME  := libqlow.so.$(ABI_VERSION)
PCFILE  := $(LIBOUT)/libqlow.pc

# Programs that link the library (tests, examples, bench) use these.
PROG_CFLAGS := -std=c11 $(OPT) -g -Iinclude -Isrc -Itests $(WARN) $(SANFLAGS) $(OMPFLAGS) $(EXTRA_CFLAGS)
PROG_LDLIBS := $(STATIC) -lm $(OMPFLAGS) $(SANFLAGS)

.PHONY: FORCE all lib check demo bench install uninstall clean abi-update
all: lib

lib: $(STATIC) $(SHARED) $(LIBOUT)/$(SONAME) $(LIBOUT)/libqlow.so $(PCFILE)

$(OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_LIB) $(CFLAGS_LIB) -MMD -MP -c $< -o $@

# lib/ is shared by every variant: a stamp that changes with the variant forces the archive and the
# shared library to be relinked when, say, a SAN=... build ran in between.
VARIANT_STAMP := $(LIBOUT)/.variant
$(VARIANT_STAMP): FORCE
	@mkdir -p $(LIBOUT)
	@echo '$(VARIANT) $(CC) $(EXTRA_CFLAGS)' > $@.tmp && (cmp -s $@.tmp $@ || mv $@.tmp $@); rm -f $@.tmp

$(STATIC): $(OBJS) $(VARIANT_STAMP)
	@mkdir -p $(LIBOUT)
	rm -f $@
	ar rcs $@ $(OBJS)

$(SHARED): $(OBJS) src/libqlow.map $(VARIANT_STAMP)
	@mkdir -p $(LIBOUT)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/libqlow.map -Wl,--no-undefined \
	    $(SANFLAGS) -o $@ $(OBJS) $(LDLIBS_LIB)

$(LIBOUT)/$(SONAME): $(SHARED)
	ln -sf libqlow.so.$(LIB_VERSION) $@
$(LIBOUT)/libqlow.so: $(LIBOUT)/$(SONAME)
	ln -sf $(SONAME) $@

PC_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR_INSTALL)|g' -e 's|@VERSION@|$(RELEASE)|g' \
	    -e 's|@OPENMP_LIBS@|$(OMPFLAGS)|g' pkgconfig/libqlow.pc.in

# Always regenerated: its contents depend on PREFIX, which is not a file.
$(PCFILE): pkgconfig/libqlow.pc.in include/qlow.h FORCE
	@mkdir -p $(LIBOUT)
	@$(PC_SUBST) > $@.tmp && (cmp -s $@.tmp $@ || mv $@.tmp $@); rm -f $@.tmp
FORCE:

# ---- tests ----------------------------------------------------------------------------------------
TEST_SRCS := $(sort $(wildcard tests/unit/*.c))
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests-$(VARIANT)/%)

$(BUILD)/tests-$(VARIANT)/%: tests/unit/%.c $(STATIC) tests/qtest.h
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $< -o $@ $(PROG_LDLIBS)

tests: $(TEST_BINS)

# Every test binary and every tests/checks/*.sh script; ends with "N passed, N failed".
check: lib $(TEST_BINS) $(CHECK_DEPS)
	@QLOW_BUILD="$(BUILD)" QLOW_LIBOUT="$(LIBOUT)" QLOW_VARIANT="$(VARIANT)" CC="$(CC)" CXX="$(CXX)" \
	    OPENMP="$(OPENMP)" SAN="$(SAN)" sh tests/run_tests.sh $(TEST_BINS)

abi-update: $(SHARED)
	nm -D --defined-only $(SHARED) | awk '$$2 == "T" || $$2 == "D" || $$2 == "R" || $$2 == "B" {print $$3}' \
	    | sed 's/@.*//' | sort -u > tests/abi/exported_symbols.txt

# ---- install --------------------------------------------------------------------------------------
install: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR_INSTALL)/pkgconfig
	install -m 644 include/qlow.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR_INSTALL)/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR_INSTALL)/
	ln -sf libqlow.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR_INSTALL)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR_INSTALL)/libqlow.so
	$(PC_SUBST) > $(DESTDIR)$(LIBDIR_INSTALL)/pkgconfig/libqlow.pc
	$(INSTALL_EXTRA)

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/qlow.h $(DESTDIR)$(LIBDIR_INSTALL)/libqlow.* \
	      $(DESTDIR)$(LIBDIR_INSTALL)/pkgconfig/libqlow.pc

clean:
	rm -rf $(BUILD) $(LIBOUT)/libqlow.* build-meson dist

# Subsystem fragments add programs and targets (examples, bench, demo, firmware, ...).
-include $(sort $(wildcard examples/*/build.mk bench/build.mk tests/*.mk mk/*.mk))
-include $(DEPS)
