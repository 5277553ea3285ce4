# nabla — build, test and benchmark.  `make run` and `make test` first install missing Debian
# packages (scripts/deps.sh).  `make PORTABLE=1` drops -march=native; `make asan-test` builds the
# same suite with AddressSanitizer + UBSan into build/asan.

CC      ?= gcc
BUILD   ?= build
PKGS    := lua5.4 openblas lapacke libedit zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT     := -O3 $(if $(PORTABLE),,-march=native)
WARN    := -Wall -Wextra -Wpedantic $(if $(WERROR),-Werror,)
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANFLAGS := $(if $(SAN),$(SANITIZE))
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -fPIC $(SANFLAGS) $(PKG_CFLAGS)
LDFLAGS := $(SANFLAGS)
RT_LIBS := $(filter -L% -lopenblas -llapacke,$(PKG_LIBS)) -lpthread -lm

RT_SRC  := $(wildcard runtime/*.c)
RT_OBJ  := $(RT_SRC:%.c=$(BUILD)/obj/%.o)
LB_SRC  := $(wildcard lua/*.c)
LB_OBJ  := $(LB_SRC:%.c=$(BUILD)/obj/%.o)
REPL_SRC := $(wildcard repl/*.c)
REPL_OBJ := $(REPL_SRC:%.c=$(BUILD)/obj/%.o)
RT_TESTS := $(patsubst tests/runtime/%.c,$(BUILD)/tests/%,$(wildcard tests/runtime/test_*.c))
REPL_TESTS := $(patsubst tests/repl/%.c,$(BUILD)/tests/%,$(wildcard tests/repl/test_*.c))
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/bench_*.c))
ALL_LIBS := $(PKG_LIBS) -lpthread -lm

# the Lua module (build/nabla.so) and the program (build/nabla) exist once their sources do
LB_TARGET := $(if $(LB_SRC),$(BUILD)/nabla.so)
REPL_TARGET := $(if $(and $(LB_SRC),$(REPL_SRC)),$(BUILD)/nabla)

.PHONY: all deps run test test-run asan-test bench check-layers clean install
all: $(BUILD)/libnabla.a $(RT_TESTS) $(LB_TARGET) $(REPL_TARGET) $(REPL_TESTS)

deps:
	@sh scripts/deps.sh

$(BUILD)/obj/%.o: %.c $(wildcard runtime/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libnabla.a: $(RT_OBJ)
	@mkdir -p $(dir $@)
	@echo "  AR    $@"
	@$(AR) rcs $@ $^

$(BUILD)/tests/%: tests/runtime/%.c $(wildcard tests/runtime/*.h) $(BUILD)/libnabla.a
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	@$(CC) $(CFLAGS) -Iruntime $< -o $@ $(LDFLAGS) $(BUILD)/libnabla.a $(RT_LIBS)

$(BUILD)/obj/lua/%.o: lua/%.c $(wildcard lua/*.h) $(wildcard runtime/*.h) $(BUILD)/gen/func_lua.h
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -Iruntime -I$(BUILD)/gen -c $< -o $@

# Lua sources compiled into the module become C string literals.
$(BUILD)/gen/func_lua.h: lua/func.lua
	@mkdir -p $(dir $@)
	@{ echo 'static const char lb_func_lua[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/' $<; echo ';'; } > $@

$(BUILD)/obj/repl/%.o: repl/%.c $(wildcard repl/*.h) $(wildcard lua/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -Iruntime -Ilua -DNABLA_STDLIB='"$(abspath stdlib)"' -c $< -o $@

$(BUILD)/nabla.so: $(LB_OBJ) $(BUILD)/libnabla.a
	@echo "  LD    $@"
	@$(CC) -shared $(LDFLAGS) $(LB_OBJ) $(BUILD)/libnabla.a -o $@ $(RT_LIBS) -lz

$(BUILD)/nabla: $(REPL_OBJ) $(LB_OBJ) $(BUILD)/libnabla.a
	@echo "  LD    $@"
	@$(CC) $(LDFLAGS) $(REPL_OBJ) $(LB_OBJ) $(BUILD)/libnabla.a -o $@ $(ALL_LIBS)

$(BUILD)/tests/test_%: tests/repl/test_%.c $(wildcard tests/repl/*.h)
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	@$(CC) $(CFLAGS) -Iruntime $< -o $@ $(LDFLAGS) -lutil $(ALL_LIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libnabla.a
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	@$(CC) $(CFLAGS) -Iruntime $< -o $@ $(LDFLAGS) $(BUILD)/libnabla.a $(RT_LIBS)

run: deps all
	@if [ -x $(BUILD)/nabla ]; then exec $(BUILD)/nabla; \
	else echo "REPL not built yet: the runtime library is in $(BUILD)/libnabla.a"; fi

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check-layers
	@sh tests/run.sh $(BUILD)

asan-test: deps
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    sh tests/run.sh build/asan

# Figures, not tests: C benchmarks against OpenBLAS/memcpy, Lua ones against PyTorch (if the
# Debian package python3-torch is installed), all in the same run on this machine.
bench: deps all $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done
	@for t in 1 2; do sh bench/compare_torch.sh $(BUILD) bench/overhead.lua bench/overhead_torch.py $$t; done
	@for t in 1 2; do sh bench/compare_torch.sh $(BUILD) bench/train_mlp.lua bench/train_mlp_torch.py $$t; done
	@for t in 1 2; do sh bench/compare_torch.sh $(BUILD) bench/train_cnn.lua bench/train_cnn_torch.py $$t; done

check-layers:
	@if grep -l 'lua\.h\|lauxlib\.h' runtime/*.c runtime/*.h; then \
	    echo "check-layers: runtime/ must not include Lua headers"; exit 1; fi

# PREFIX/bin/nabla finds PREFIX/share/nabla/stdlib next to itself; the module for plain Lua
# goes to PREFIX/lib/lua/5.4.
PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/nabla \
	    $(DESTDIR)$(PREFIX)/lib/lua/5.4
	install -m 755 $(BUILD)/nabla $(DESTDIR)$(PREFIX)/bin/nabla
	install -m 755 $(BUILD)/nabla.so $(DESTDIR)$(PREFIX)/lib/lua/5.4/nabla.so
	cp -R stdlib $(DESTDIR)$(PREFIX)/share/nabla/
	if [ -d examples/lessons ]; then cp -R examples/lessons $(DESTDIR)$(PREFIX)/share/nabla/; fi

clean:
	rm -rf build
