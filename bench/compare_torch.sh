#!/bin/sh
# Runs a Lua benchmark and its PyTorch twin with the same thread count in the same run and
# prints each line as: name  nabla_us  torch_us  ratio (nabla/torch; < 1 means nabla is faster).
# usage: bench/compare_torch.sh BUILD bench/NAME.lua bench/NAME_torch.py [threads]
BUILD=$1; LUA=$2; PY=$3; T=${4:-1}
ours=$(LUA_CPATH="$BUILD/?.so" LUA_PATH="stdlib/?.lua;stdlib/?/init.lua" lua5.4 "$LUA" "$T") || exit 1
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    theirs=$(OMP_NUM_THREADS=$T /usr/bin/python3 "$PY" "$T") || exit 1
else
    theirs=""
    echo "(PyTorch not installed: apt-get install python3-torch for the comparison)"
fi
printf '%-28s %12s %12s %8s\n' "benchmark ($T threads)" "nabla" "pytorch" "ratio"
printf '%s\n' "$ours" | while read -r name val unit; do
    t=$(printf '%s\n' "$theirs" | awk -v n="$name" '$1 == n { print $2 }')
    if [ -n "$t" ]; then
        r=$(awk -v a="$val" -v b="$t" 'BEGIN { printf "%.3f", a / b }')
        printf '%-28s %12s %12s %8s\n' "$name" "$val" "$t" "$r"
    else
        printf '%-28s %12s %12s %8s\n' "$name" "$val" "-" "-"
    fi
done
