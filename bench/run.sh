#!/usr/bin/env bash
# Load test: wasgi against a native Go net/http server doing the same work,
# in one run on this machine, on 127.0.0.1 only, bounded in time.
#   bash bench/run.sh            # 5 s per case
#   DURATION=10s bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")"
DURATION=${DURATION:-5s}
mkdir -p out
WASM="env GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared"
$WASM -o out/hello.wasm ../examples/hello
$WASM -o out/guest.wasm ../testdata/guest
go build -o out/wasgi ../cmd/wasgi
go build -o out/native ./native
go build -o out/load ./load

${WASGI_ENV:-} out/wasgi serve -c bench.toml 2>out/wasgi.log &
WASGI=$!
env -i out/native -addr 127.0.0.1:8091 &
NATIVE=$!
trap 'kill $WASGI $NATIVE 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  curl -fs -o /dev/null http://127.0.0.1:8090/ 2>/dev/null && curl -fs -o /dev/null http://127.0.0.1:8091/ 2>/dev/null && break
  sleep 0.1
done

printf 'case\treq/s\tp50\tp99\terrors\n' > out/results.tsv
run() { # label url [extra load flags]
  local label=$1 url=$2; shift 2
  out/load -label "$label" -url "$url" -d "$DURATION" "$@" | tee -a out/results.tsv
}
for c in 1 64; do
  run "hello native c=$c" http://127.0.0.1:8091/hello -c $c
  run "hello wasgi c=$c" http://127.0.0.1:8090/hello -c $c
  run "env native c=$c" http://127.0.0.1:8091/env -c $c
  run "env wasgi c=$c" http://127.0.0.1:8090/g/env -c $c
  run "post64k native c=$c" http://127.0.0.1:8091/echo -c $c -body 65536
  run "post64k wasgi c=$c" http://127.0.0.1:8090/g/echo -c $c -body 65536
done

echo
echo "ratios (wasgi / native req/s):"
awk -F'\t' 'NR>1 { split($1, a, " "); key=a[1]" "a[3]; if (a[2]=="native") n[key]=$2; else w[key]=$2 }
  END { for (k in w) if (n[k] > 0) printf "  %-14s %.3f\n", k, w[k]/n[k] }' out/results.tsv | sort
echo "go $(go version | cut -d' ' -f3), $(nproc) cores, $(date -u +%Y-%m-%d)"
