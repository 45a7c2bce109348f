#!/usr/bin/env bash
# Isolation under fire: load-test site "quiet" alone, then again while site
# "hammer" is flooded with infinite loops and traps at full concurrency.
# Prints both p99s, quiet's failures (must be 0) and the host's peak RSS,
# for wasgi as it is and, in the same run, without CAP_SYS_NICE (setpriv
# drops it: no thread renicing). QUIET_C sets the quiet load's concurrency
# (default 8: it saturates 2 cores). BASELINE=commit
# adds the same two cases for that commit's wasgi (built in a temporary
# worktree), e.g. BASELINE=HEAD~1 to see what a change did.
# EXTRA_BINS="a b" adds more commands run like out/wasgi (for example
# scripts that exec out/wasgi with an environment of their own).
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
bins=(out/wasgi ${EXTRA_BINS:-})
if [ -n "${BASELINE:-}" ]; then
  wt=$(mktemp -d)
  git -C .. worktree add -q --detach "$wt" "$BASELINE"
  out=$(pwd)/out
  (cd "$wt" && go build -o "$out/wasgi-baseline" ./cmd/wasgi)
  git -C .. worktree remove --force "$wt"
  bins+=(out/wasgi-baseline)
fi
nocap=()
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
  nocap=(setpriv --inh-caps=-sys_nice --bounding-set=-sys_nice --)
fi

URL=http://127.0.0.1:8092
printf 'case\treq/s\tp50\tp99\tfailures\n'
# one BIN LABEL PREFIX...: quiet alone, then quiet under fire.
one() {
  local bin=$1 label=$2
  shift 2
  "$@" "$bin" serve -c isolation.toml 2>"out/isolation-$label.log" &
  local pid=$!
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null -H 'Host: quiet.test' $URL/ 2>/dev/null && break
    sleep 0.1
  done
  out/load -label "$label: quiet alone" -url $URL/ -host quiet.test -c "${QUIET_C:-8}" -d "$DURATION" | tee "out/quiet-$label.tsv"
  # The hammer: twice its capacity in infinite loops, plus traps.
  nice -n 19 out/load -label "$label: hammer /spin (504/503 expected)" -url $URL/spin -host hammer.test -c 8 -d "$DURATION" >"out/hammer1-$label.tsv" &
  local h1=$!
  nice -n 19 out/load -label "$label: hammer trap (500/503 expected)" -url $URL/abi/body_write -host hammer.test -c 8 -d "$DURATION" >"out/hammer2-$label.tsv" &
  local h2=$!
  sleep 0.5
  out/load -label "$label: quiet under fire" -url $URL/ -host quiet.test -c "${QUIET_C:-8}" -d "$DURATION" | tee -a "out/quiet-$label.tsv"
  wait $h1 $h2 2>/dev/null || true
  cat "out/hammer1-$label.tsv" "out/hammer2-$label.tsv"
  awk -F'\t' -v l="$label" 'NR==1 {q=$4} NR==2 {f=$4} END {print l ": p99 quiet alone " q ", under fire " f}' "out/quiet-$label.tsv" >>out/isolation-summary.txt
  echo "$label: host peak RSS $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')" >>out/isolation-summary.txt
  curl -fs http://127.0.0.1:9093/metrics 2>/dev/null | grep -E '^wasgi_group_(cpu|calls)' | sed "s/^/$label: /" >>out/isolation-summary.txt || true
  kill $pid
  wait $pid 2>/dev/null || true
}
: >out/isolation-summary.txt
for bin in "${bins[@]}"; do
  name=$(basename "$bin")
  one "$bin" "$name"
  if [ ${#nocap[@]} -gt 0 ]; then
    one "$bin" "$name-no-cap_sys_nice" "${nocap[@]}"
  fi
done
cat out/isolation-summary.txt
