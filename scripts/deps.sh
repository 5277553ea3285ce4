#!/bin/sh
# Installs the Debian packages nabla needs that are missing.  A fast no-op when all are present;
# as root it runs apt-get, otherwise it prints the exact command to run.
set -e
PKGS="lua5.4 liblua5.4-dev libopenblas-dev liblapacke-dev libedit-dev zlib1g-dev pkg-config
      dataset-fashion-mnist"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q $missing >/dev/null 2>&1 || {
        apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null; }
else
    echo "deps: missing packages; run as root:"
    echo "  apt-get install -y$missing"
    exit 1
fi
