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
RT_TESTS := $(patsubst tests/runtime/%.c,$(BUILD)/tests/%,$(wildcard tests/runtime/test_*.c))
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/bench_*.c))

.PHONY: all deps run test test-run asan-test bench check-layers clean
all: $(BUILD)/libnabla.a $(RT_TESTS)

deps:
	@sh scripts/deps.sh

$(BUILD)/obj/%.o: %.c $(wildcard runtime/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libnabla.a: $(RT_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/tests/%: tests/runtime/%.c tests/runtime/harness.h $(BUILD)/libnabla.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iruntime $< -o $@ $(LDFLAGS) $(BUILD)/libnabla.a $(RT_LIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libnabla.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iruntime $< -o $@ $(LDFLAGS) $(BUILD)/libnabla.a $(RT_LIBS)

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

bench: deps $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

check-layers:
	@if grep -l 'lua\.h\|lauxlib\.h' runtime/*.c runtime/*.h; then \
	    echo "check-layers: runtime/ must not include Lua headers"; exit 1; fi

clean:
	rm -rf build
