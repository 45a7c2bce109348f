#!/usr/bin/env bash
# Isolation under fire: load-test site "quiet" alone, then again while site
# "hammer" is flooded with infinite loops and traps at full concurrency.
# Prints both p99s, quiet's failures (must be 0) and the host's peak RSS.
# Loopback only, bounded in time.
set -euo pipefail
cd "$(dirname "$0")"
DURATION=${DURATION:-5s}
mkdir -p out
WASM="env GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared"
$WASM -o out/hello.wasm ../examples/hello
$WASM -o out/guest.wasm ../testdata/guest
go build -o out/wasgi ../cmd/wasgi
go build -o out/load ./load

${WASGI_ENV:-} out/wasgi serve -c isolation.toml 2>out/isolation.log &
WASGI=$!
trap 'kill $WASGI 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  curl -fs -o /dev/null -H 'Host: quiet.test' http://127.0.0.1:8092/ 2>/dev/null && break
  sleep 0.1
done

URL=http://127.0.0.1:8092
printf 'case\treq/s\tp50\tp99\tfailures\n'
out/load -label "quiet alone" -url $URL/ -host quiet.test -c 8 -d "$DURATION" | tee out/quiet.tsv
# The hammer: twice its capacity in infinite loops, plus traps.
nice -n 19 out/load -label "hammer /spin (504/503 expected)" -url $URL/spin -host hammer.test -c 8 -d "$DURATION" > out/hammer1.tsv &
nice -n 19 out/load -label "hammer trap (500/503 expected)" -url $URL/abi/body_write -host hammer.test -c 8 -d "$DURATION" > out/hammer2.tsv &
sleep 0.5
out/load -label "quiet under fire" -url $URL/ -host quiet.test -c 8 -d "$DURATION" | tee -a out/quiet.tsv
wait %2 %3 2>/dev/null || true
cat out/hammer1.tsv out/hammer2.tsv
awk -F'\t' 'NR==1 {q=$4} NR==2 {f=$4} END {print "p99 quiet alone: " q ", under fire: " f}' out/quiet.tsv
echo "host peak RSS: $(grep VmHWM /proc/$WASGI/status | awk '{print $2, $3}')"
kill -0 $WASGI && echo "host still up: yes"
