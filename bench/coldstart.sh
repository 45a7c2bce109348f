#!/usr/bin/env bash
# Cold start and memory of a host with many Go sites (bench/coldstart),
# each case in a fresh process: the examples/hello app on SITES sites,
# sharing one module or each with its own copy (compiled on its own), from
# an empty or a filled compilation cache, with min_instances 0 or 4.
#
#   bash bench/coldstart.sh            # 100 sites
#   SITES=20 bash bench/coldstart.sh
set -euo pipefail
cd "$(dirname "$0")"
SITES=${SITES:-100}
OUT=$(pwd)/out/coldstart
rm -rf "$OUT" && mkdir -p "$OUT"
env GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$OUT/hello.wasm" ../examples/hello
go build -o "$OUT/coldstart" ./coldstart
run() { # name cache args...
  local name=$1 cache=$2; shift 2
  printf '%-28s ' "$name"
  "$OUT/coldstart" -wasm "$OUT/hello.wasm" -work "$OUT/work-$name" -cache "$OUT/$cache" -sites "$SITES" "$@"
}
echo "go $(go env GOVERSION), $(nproc) cores, $SITES sites of examples/hello ($(stat -c %s "$OUT/hello.wasm") bytes)"
run shared-cold cache-shared
run shared-warm cache-shared
run shared-warm-gap100ms cache-shared -gap 100ms
run distinct-cold cache-distinct -distinct
run distinct-warm cache-distinct -distinct
run distinct-warm-lazy cache-distinct -distinct -lazy
run distinct-warm-min4 cache-distinct -distinct -min 4
run shared-warm-min4 cache-shared -min 4
