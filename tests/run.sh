#!/bin/sh
# Runs every test binary in BUILD/tests and sums their "N passed, N failed" lines.
# Exit status is non-zero if any check failed or any test program crashed.
BUILD=${1:-build}
pass=0; fail=0
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    out=$("$t" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$line" ] || [ $rc -ne 0 ]; then
        printf '%s\n' "$out" | grep -v '^ok ' | tail -n 40
    fi
    if [ -n "$line" ]; then
        p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
        pass=$((pass + p)); fail=$((fail + f))
        printf '%-32s %s\n' "$(basename "$t")" "$line"
    else
        echo "$(basename "$t"): crashed or printed no summary (exit $rc)"
    fi
    if [ $rc -ne 0 ] && { [ -z "$line" ] || [ "${f:-0}" = 0 ]; }; then fail=$((fail + 1)); fi
done
# Lua tests: plain lua5.4 loading build/nabla.so (an ASan build needs the runtime preloaded).
if [ -f "$BUILD/nabla.so" ] && command -v lua5.4 >/dev/null; then
    pre=""
    export NABLA_BIN="$BUILD/nabla"
    case "$BUILD" in *asan*) pre="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
                             export NABLA_ASAN=1;; esac
    for t in tests/lua/test_*.lua; do
        [ -f "$t" ] || continue
        out=$(LD_PRELOAD="$pre" LUA_CPATH="$BUILD/?.so" \
              LUA_PATH="stdlib/?.lua;stdlib/?/init.lua;tests/lua/?.lua" lua5.4 "$t" 2>&1); rc=$?
        line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
        if [ -z "$line" ] || [ $rc -ne 0 ]; then printf '%s\n' "$out" | tail -n 40; fi
        if [ -n "$line" ]; then
            p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
            pass=$((pass + p)); fail=$((fail + f))
            printf '%-32s %s\n' "$(basename "$t")" "$line"
        else
            echo "$(basename "$t"): crashed or printed no summary (exit $rc)"; fail=$((fail + 1))
        fi
        if [ $rc -ne 0 ] && [ -n "$line" ] && [ "$f" = 0 ]; then fail=$((fail + 1)); fi
    done
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
