# engine.mk - the reference engine (examples/llama), the qlow CLI (examples/cli) and `make demo`.
ENGINE_SRCS := $(sort $(wildcard examples/llama/*.c))
ENGINE_HDRS := $(sort $(wildcard examples/llama/*.h))
CLI_SRCS    := $(sort $(wildcard examples/cli/*.c))
CLI_HDRS    := $(sort $(wildcard examples/cli/*.h))
QLOW_BIN    := $(BUILD)/qlow

$(QLOW_BIN): $(ENGINE_SRCS) $(CLI_SRCS) $(ENGINE_HDRS) $(CLI_HDRS) $(STATIC) include/qlow.h
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -Iexamples/llama -Iexamples/cli $(ENGINE_SRCS) $(CLI_SRCS) -o $@ $(PROG_LDLIBS)

.PHONY: qlow
qlow: $(QLOW_BIN)
all: $(QLOW_BIN)
# The CLI checks (tests/checks/engine_cli.sh) run the binary.
check: $(QLOW_BIN)
# Engine tests compile engine sources in (#include of examples/llama/*.c), so they depend on them.
ENGINE_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests-$(VARIANT)/%,$(wildcard tests/unit/test_engine_*.c))
$(ENGINE_TESTS): $(ENGINE_SRCS) $(ENGINE_HDRS)

INSTALL_EXTRA = install -d $(DESTDIR)$(PREFIX)/bin && install -m 755 $(QLOW_BIN) $(DESTDIR)$(PREFIX)/bin/qlow
install: $(QLOW_BIN)

demo: $(QLOW_BIN)
	@QLOW="$(QLOW_BIN)" OUT="$(BUILD)/demo" sh examples/cli/demo.sh
