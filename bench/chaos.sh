#!/usr/bin/env bash
# Chaos: hostile guests (loops, traps, memory and stack bombs, log floods,
# symlink escapes) and hostile clients (idle connection floods, smuggling
# shapes, slowloris) against one live host, while a well-behaved site is
# load-tested. Prints the good site's requests and failures (must be 0),
# host restarts (must be 0), files read outside roots (must be 0) and the
# host's peak RSS. 127.0.0.1 only; stops by itself after DURATION.
set -euo pipefail
cd "$(dirname "$0")"
DURATION=${DURATION:-10s}
mkdir -p out/chaos-data
WASM="env GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared"
$WASM -o out/hello.wasm ../examples/hello
$WASM -o out/guest.wasm ../testdata/guest
go build -o out/wasgi ../cmd/wasgi
go build -o out/load ./load

out/wasgi serve -c chaos.toml 2>out/chaos.log &
WASGI=$!
trap 'kill $WASGI 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  curl -fs -o /dev/null -H 'Host: quiet.test' http://127.0.0.1:8095/ 2>/dev/null && break
  sleep 0.1
done
URL=http://127.0.0.1:8095
secs=${DURATION%s}

# Hostile guests, each path on its own connections.
for p in /spin /abi/body_write /abi/environ_read_len /alloc /recurse /exit /panic /flood /sleep; do
  out/load -label "guest $p" -url "$URL$p" -host hammer.test -c 2 -d "$DURATION" >"out/chaos-guest-$(echo "$p" | tr / _).tsv" &
done
# Escapes: count answers that carry a line of /etc/passwd.
for q in "/plant?target=/etc/passwd" "/plant?target=../../../../etc/passwd" "/file?name=/etc/passwd" "/file?name=/data/../../etc/passwd"; do
  out/load -label "escape $q" -url "$URL$q" -host hammer.test -c 1 -d "$DURATION" -grep "root:" >>out/chaos-escape.tsv &
done
# Hostile clients: idle connections, smuggling shapes, slowloris, bad framing.
(
  end=$((SECONDS + secs))
  while [ $SECONDS -lt $end ]; do
    for _ in $(seq 1 20); do
      (exec 3<>/dev/tcp/127.0.0.1/8095 && sleep 5) 2>/dev/null &
    done
    printf 'POST /echo HTTP/1.1\r\nHost: hammer.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /panic HTTP/1.1\r\nHost: hammer.test\r\n\r\n' |
      timeout 2 bash -c 'cat >/dev/tcp/127.0.0.1/8095' 2>/dev/null || true
    printf 'GET / HTTP/1.1\r\nHost: quiet.test\r\nX-Slow: ' | timeout 2 bash -c 'cat >/dev/tcp/127.0.0.1/8095' 2>/dev/null || true
    printf 'POST /echo HTTP/1.1\r\nHost: hammer.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' |
      timeout 2 bash -c 'cat >/dev/tcp/127.0.0.1/8095' 2>/dev/null || true
    sleep 0.5
  done
) &
sleep 0.5
printf 'case\treq/s\tp50\tp99\tfailures\n'
out/load -label "good site under chaos" -url "$URL/" -host quiet.test -c 8 -d "$DURATION" | tee out/chaos-good.tsv
wait %2 %3 %4 %5 %6 %7 %8 %9 %10 %11 %12 %13 %14 2>/dev/null || true
sleep 1
served=$(awk -F'\t' '{ n = $2 * '"$secs"' } END { printf "%d", n }' out/chaos-good.tsv)
failed=$(awk -F'\t' '{ print $5 }' out/chaos-good.tsv)
escapes=$(awk -F'\t' '{ s += $6 } END { print s + 0 }' out/chaos-escape.tsv)
restarts=1; kill -0 $WASGI 2>/dev/null && restarts=0
echo
echo "good site: ~$served requests served, $failed failed"
echo "host restarts: $restarts"
echo "files read outside roots: $escapes"
echo "host peak RSS: $(grep VmHWM /proc/$WASGI/status | awk '{print $2, $3}')"
echo "hostile guest calls answered: $(cat out/chaos-guest-*.tsv | awk -F'\t' '{ s += $2 * '"$secs"' } END { printf "%d", s }') (all 5xx or cut: expected)"
rm -f out/chaos-escape.tsv
