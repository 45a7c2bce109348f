#!/usr/bin/env bash
# Python apps, one run on this machine, 127.0.0.1 only, bounded in time: the
# Django hello view of examples/python/django (settings_alpha) and the Flask
# hello of examples/python/flask under wasgi (CPython 3.11 for WASI, groups
# of 2 and 4 warm instances) and under
# Apache 2.4 + mod_wsgi in daemon mode (processes=2 threads=15), as Django's
# deployment guide configures it, and under gunicorn (2 sync workers, and
# 2 gthread workers of 15 threads). Apache, mod_wsgi, gunicorn, wrk, Django
# and Flask come from Debian, installed here when missing. Servers run one at a time,
# each is checked to answer the hello body before wrk loads it.
#
# Also measured: wasgi's time to ready with two Django sites (cold and warm
# compilation cache), the first request of a lazily started instance, the
# p50 of requests that each get an instance restored from the snapshot
# (max_requests = 1), the RSS of each server, the view's own time inside
# the interpreter (native CPython in process, mod_wsgi, wasm).
#
#   bash bench/python.sh                   # 5 s per case, c=1 and c=16
#   DURATION=10s CONNS="1 16 64" bash bench/python.sh
#   PROFILE=1 bash bench/python.sh         # also a perf profile of wasgi under load
#   SERVERS=wasgi WASGI_BIN=/tmp/wasgi-old bash bench/python.sh   # only wasgi, another build of it
set -euo pipefail
cd "$(dirname "$0")"
. ./lib.sh
DURATION=${DURATION:-5s}
CONNS=${CONNS:-1 16}
PROFILE=${PROFILE:-0}
SERVERS=${SERVERS:-apache gunicorn wasgi}
BENCH=$(pwd)
OUT=$BENCH/out/python
APP=$OUT/app
PORT=8190     # wasgi
ADMIN=8199   # wasgi's admin listener
APORT=8193    # Apache
GPORT=8194    # gunicorn
mkdir -p "$OUT/apache"
chmod 755 "$BENCH/out" "$OUT" "$OUT/apache"

# --- prerequisites ----------------------------------------------------------
install_debs apache2 libapache2-mod-wsgi-py3 gunicorn wrk python3-django python3-flask
command -v wrk >/dev/null || { echo "python.sh needs wrk" >&2; exit 1; }
APACHE=0
command -v apache2 >/dev/null && [ -e /usr/lib/apache2/modules/mod_wsgi.so ] && [[ " $SERVERS " == *" apache "* ]] && APACHE=1
GUNICORN=0
command -v gunicorn >/dev/null && [[ " $SERVERS " == *" gunicorn "* ]] && GUNICORN=1
PYRT=${WASGI_PYTHON:-${XDG_CACHE_HOME:-$HOME/.cache}/wasgi/python}
[ -f "$PYRT/python-wsgi.wasm" ] || ../runtimes/python/build.sh
if [ -n "${WASGI_BIN:-}" ]; then cp "$WASGI_BIN" "$OUT/wasgi"; else go build -o "$OUT/wasgi" ../cmd/wasgi; fi

# A copy of the example projects, static files collected, bytecode compiled
# (read-only for both servers), and a probe: the Django app wrapped to
# report its own time per request in an X-App-Us header.
rm -rf "$APP" && mkdir -p "$APP/probe"
cp -r ../examples/python/django ../examples/python/flask "$APP/"
rm -rf "$APP/django/static" "$APP/django/media"/* "$APP"/*/__pycache__ "$APP"/*/*/__pycache__
(cd "$APP/django" && DJANGO_SETTINGS_MODULE=mysite.settings_alpha /usr/bin/python3 manage.py collectstatic --noinput >/dev/null)
cat >"$APP/probe/timed.py" <<'EOF'
"""The Django hello, timed from inside the interpreter (X-App-Us)."""
from time import perf_counter_ns

from mysite.wsgi import application as inner


def application(environ, start_response):
    t0 = perf_counter_ns()
    got = []
    it = inner(environ, lambda status, headers, exc_info=None: got.extend((status, headers)))
    try:
        body = b"".join(it)
    finally:
        if hasattr(it, "close"):
            it.close()
    us = (perf_counter_ns() - t0) // 1000
    headers = [h for h in got[1] if h[0].lower() != "content-length"]
    start_response(got[0], headers + [("Content-Length", str(len(body))), ("X-App-Us", str(us))])
    return [body]
EOF
/usr/bin/python3 -m compileall -q "$APP" >/dev/null
chmod -R a+rX "$APP"

DJANGO_BODY='Hello from Django in a WebAssembly sandbox: Alpha (DJANGO_SETTINGS_MODULE=mysite.settings_alpha)'
FLASK_BODY='Hello from Flask, in a WebAssembly sandbox!'
export DJANGO_SETTINGS_MODULE=mysite.settings_alpha  # Apache's daemons inherit it

# --- servers ----------------------------------------------------------------
WPID=; APID=; GPID=
stop_gunicorn() { [ -n "$GPID" ] && { kill "$GPID" 2>/dev/null; wait "$GPID" 2>/dev/null || true; }; GPID=; }
# start_gunicorn DIR APP WORKER_ARGS...: gunicorn from Debian on $GPORT,
# no access log; sets GPID and T0.
start_gunicorn() {
  local dir=$1 app=$2; shift 2
  stop_gunicorn
  T0=$(now_ms)
  (cd "$dir" && exec gunicorn --bind "127.0.0.1:$GPORT" --workers 2 "$@" --log-level warning "$app" 2>"$OUT/gunicorn.log") &
  GPID=$!
}
stop_wasgi() { [ -n "$WPID" ] && { kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null || true; }; WPID=; }
stop_apache() {
  [ -n "$APID" ] || return 0
  kill "$(cat "$OUT/apache/httpd.pid" 2>/dev/null || echo "$APID")" 2>/dev/null || true
  wait "$APID" 2>/dev/null || true
  APID=
}
cleanup() { stop_wasgi; stop_apache; stop_gunicorn; }
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ready_ms URL BODY [CURL_ARGS...]: polls until URL answers 200 with BODY
# (60 s at most); prints the milliseconds since T0.
ready_ms() {
  local url=$1 body=$2 end=$(($(now_ms) + 60000)); shift 2
  while [ "$(now_ms)" -lt $end ]; do
    if curl -fs -m 10 "$@" "$url" 2>/dev/null | grep -qF "$body"; then echo $(($(now_ms) - T0)); return 0; fi
    for p in $WPID $APID $GPID; do kill -0 "$p" 2>/dev/null || { echo "error: the server exited, see $OUT/*.log, $OUT/apache/error.log" >&2; return 1; }; done
    sleep 0.05
  done
  echo "error: $url never answered '$body'" >&2; return 1
}

# python_app NAME HOSTS GROUP KIND: a [[site]] of the wasgi config.
python_app() {
  local wsgi=mysite.wsgi:application path='"app/django"' env=$'\n  env = { DJANGO_SETTINGS_MODULE = "mysite.settings_alpha" }'
  case $4 in
    flask) wsgi=hello_flask:application path='"app/flask"' env= ;;
    probe) wsgi=timed:application path='"app/probe", "app/django"' ;;
  esac
  cat <<EOF
[[site]]
name = "$1"
hosts = $2
  [[site.app]]
  name = "main"
  mount = "/"
  group = "$3"
  runtime = "python"
  wsgi = "$wsgi"
  python_path = [$path, "/usr/lib/python3/dist-packages"]$env
EOF
  [ "$4" = flask ] && return 0
  cat <<EOF
  [[site.alias]]
  url = "/static/"
  path = "app/django/static/"
  [[site.directory]]
  path = "app/django/static/"
  require = ["all granted"]
EOF
}

# wasgi_conf NAME CACHE: the [server] table.
wasgi_conf() {
  cat <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
admin = "127.0.0.1:$ADMIN"
cache_dir = "$2"
access_log = "off"
log_format = "json"
EOF
}

# start_wasgi NAME: starts wasgi on $OUT/NAME.toml, sets WPID and T0.
start_wasgi() {
  T0=$(now_ms)
  (cd "$OUT" && exec ./wasgi serve -c "$1.toml" 2>"$1.log") &
  WPID=$!
}

# first_ms NAME: the first instance's start (interpreter start and app
# import), from wasgi's log.
first_ms() { sed -n 's/.*"start":\([0-9]*\).*first instance started.*/\1/p' "$OUT/$1.log" | head -1; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# apache_mem: RSS and PSS (KiB) summed over Apache's processes.
apache_mem() {
  local p ps rss=0 pss=0 r s
  p=$APID
  for ps in $p $(pgrep -P "$p"); do
    r=$(awk '/^VmRSS/ {print $2}' "/proc/$ps/status" 2>/dev/null || echo 0)
    s=$(awk '/^Pss:/ {print $2}' "/proc/$ps/smaps_rollup" 2>/dev/null || echo 0)
    rss=$((rss + ${r:-0})); pss=$((pss + ${s:-0}))
  done
  echo "$rss $pss"
}

# apache_conf NAME SCRIPT PYTHONPATH: Apache + mod_wsgi in daemon mode, as
# Django's "How to use Django with Apache and mod_wsgi" sets it up.
apache_conf() {
  local dir
  dir=$(dirname "$2")
  apache_conf_head "$OUT/apache" $APORT
  cat <<EOF
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
WSGIDaemonProcess $1 processes=${4:-2} threads=${5:-15} python-path=$3:/usr/lib/python3/dist-packages display-name=%{GROUP}
WSGIProcessGroup $1
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias / $2
<Directory $dir>
  <Files $(basename "$2")>
    Require all granted
  </Files>
</Directory>
Alias /static/ $APP/django/static/
<Directory $APP/django/static>
  Require all granted
</Directory>
EOF
}

# start_apache NAME SCRIPT PYTHONPATH [PROCESSES THREADS]: sets T0.
start_apache() {
  stop_apache
  apache_conf "$@" >"$OUT/apache/$1.conf"
  T0=$(now_ms)
  apache2 -f "$OUT/apache/$1.conf" -DFOREGROUND &
  APID=$!
}

# --- measure ----------------------------------------------------------------
RESULTS=$OUT/results.tsv
printf 'app\tserver\tinstances\tconns\treq/s\tp50_us\tp99_us\terrors\trequests\tcpu_us_per_req\n' >"$RESULTS"
NOTES=$OUT/notes.txt
: >"$NOTES"
note() { echo "$*" | tee -a "$NOTES"; }

# cpu_ticks: CPU time (user + system, clock ticks) of the running server's
# processes: wasgi, or Apache's parent and children (mod_wsgi daemons too).
cpu_ticks() {
  local pids=$WPID
  [ -n "$APID" ] && pids="$APID $(pgrep -P "$APID" | tr '\n' ' ')"
  [ -n "$GPID" ] && pids="$GPID $(pgrep -P "$GPID" | tr '\n' ' ')"
  for p in $pids; do sed 's/.*) //' "/proc/$p/stat" 2>/dev/null; done | awk '{ t += $12 + $13 } END { print t + 0 }'
}
HZ=$(getconf CLK_TCK)

# row APP SERVER INSTANCES CONNS WRK_ARGS...: one wrk run, one row, with the
# server's CPU time per request.
row() {
  local a=$1 s=$2 i=$3 c=$4 t0 st; shift 4
  t0=$(cpu_ticks)
  st=$(wrk_stats "$@")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$a" "$s" "$i" "$c" "$st" \
    "$(awk -v t="$(($(cpu_ticks) - t0))" -v hz="$HZ" -v n="$(cut -f5 <<<"$st")" 'BEGIN { printf "%d", (n > 0 ? t * 1e6 / hz / n : 0) }')" | tee -a "$RESULTS"
}

# load APP SERVER INSTANCES URL: warms up (2 s at c=16), then wrk for each
# of $CONNS.
load() {
  wrk -t2 -c16 -d2s "$4" >/dev/null
  local c t
  for c in $CONNS; do
    t=2; [ "$c" = 1 ] && t=1
    row "$1" "$2" "$3" "$c" -t$t -c"$c" -d"$DURATION" --timeout 10s "$4"
  done
}

# probe URL [WRK_ARGS...]: wrk at c=1 on the probe; prints the median
# X-App-Us (the view's time inside the interpreter) and the request's p50,
# in microseconds.
cat >"$OUT/probe.lua" <<'EOF'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) us = {} end
function response(status, headers, body)
  local v = headers["X-App-Us"] or headers["x-app-us"]
  if v then us[#us + 1] = tonumber(v) end
end
function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do for _, v in ipairs(t:get("us")) do all[#all + 1] = v end end
  table.sort(all)
  if #all > 0 then io.write(string.format("app_us %d\n", all[math.floor((#all + 1) / 2)])) end
end
EOF
probe() {
  local url=$1 o; shift
  wrk -t1 -c1 -d1s "$@" "$url" >/dev/null
  o=$(wrk -t1 -c1 -d"$DURATION" --latency -s "$OUT/probe.lua" "$@" "$url")
  echo "$(awk '$1 == "app_us" {print $2}' <<<"$o") $(to_us "$(awk '$1 == "50%" {print $2}' <<<"$o")")"
}

# perf_profile NAME: a 5 s perf profile of wasgi under c=16 load, by DSO
# (guest machine code compiled by wazero is anonymous memory) and symbol.
perf_profile() {
  command -v perf >/dev/null || { echo "PROFILE=1: perf not found" >&2; return 0; }
  wrk -t2 -c16 -d7s "http://127.0.0.1:$PORT/" >/dev/null &
  local w=$!
  sleep 1
  perf record -q -F 499 -p "$WPID" -o "$OUT/perf-$1.data" -- sleep 5 >/dev/null 2>&1 || true
  wait $w || true
  perf report -i "$OUT/perf-$1.data" --no-children --sort dso,sym -g none --stdio 2>/dev/null | grep -E '^ +[0-9]' >"$OUT/perf-$1.txt" || true
  note "perf profile of wasgi ($1, c=16), share of its CPU: $(awk '{ p = $1 + 0 }
    /\[JIT\]/ { j += p; next }
    $2 == "wasgi" { w += p; if ($4 ~ /tetratelabs\/wazero/) wz += p; else if ($4 ~ /^runtime\./) rt += p; else og += p; next }
    /kernel/ { k += p; next } { o += p }
    END { printf "guest machine code %.0f%%, wasgi binary %.0f%% (wazero %.0f%%, Go runtime %.0f%%, rest %.0f%%), kernel %.0f%%, other %.0f%%", j, w, wz, rt, og, k, o }' "$OUT/perf-$1.txt")"
  awk '/^ +[0-9.]+% +wasgi / && n++ < 4 { print "   " $0 }' "$OUT/perf-$1.txt" | tee -a "$NOTES"
}

# 1. Time to ready: two Django sites (alpha, beta), each its own group of 2
# warm instances, as examples/python/wasgi.toml; a cold then a warm
# compilation cache.
{
  wasgi_conf ready cache-ready
  for s in alpha beta; do printf '[groups.%s]\ninstances = 2\nmin_instances = 2\n' $s; done
  python_app alpha '["alpha.localhost"]' alpha django
  python_app beta '["beta.localhost"]' beta django | sed 's/settings_alpha/settings_beta/'
} >"$OUT/ready.toml"
rm -rf "$OUT/cache-ready"
for cache in cold warm; do
  start_wasgi ready
  a=$(ready_ms "http://127.0.0.1:$PORT/" "Alpha (DJANGO" -H 'Host: alpha.localhost')
  b=$(ready_ms "http://127.0.0.1:$PORT/" "Beta (DJANGO" -H 'Host: beta.localhost')
  cs=$(curl -fs -m 5 "http://127.0.0.1:$ADMIN/metrics" | awk '$1 == "wasgi_module_compile_seconds_total" {printf "%d", $2 * 1000}')
  note "wasgi time to ready, 2 Django sites x 2 instances, $cache compilation cache: ${a} ms to alpha's first 200, ${b} ms to beta's (${cs} ms of it compiling); RSS $(($(rss_kib $WPID) / 1024)) MiB"
  stop_wasgi
done

# 2. The Django hello under Apache + mod_wsgi.
if [ $APACHE = 1 ]; then
  start_apache django "$APP/django/mysite/wsgi.py" "$APP/django"
  t=$(ready_ms "http://127.0.0.1:$APORT/" "$DJANGO_BODY")
  note "Apache + mod_wsgi: ${t} ms from apache2's start to the first Django 200 (mod_wsgi loads the app on a daemon's first request)"
  load django apache-mod_wsgi 2x15 "http://127.0.0.1:$APORT/"
  read -r rss pss < <(apache_mem)
  note "Apache + mod_wsgi, Django, after load: RSS $((rss / 1024)) MiB summed over its $(($(pgrep -P "$APID" | wc -l) + 1)) processes, PSS $((pss / 1024)) MiB"
  stop_apache
fi

# 2b. The Django hello under gunicorn: 2 sync workers; 2 gthread workers
# of 15 threads (mod_wsgi's daemon shape).
if [ $GUNICORN = 1 ]; then
  start_gunicorn "$APP/django" mysite.wsgi:application
  ready_ms "http://127.0.0.1:$GPORT/" "$DJANGO_BODY" >/dev/null
  load django gunicorn-sync 2 "http://127.0.0.1:$GPORT/"
  start_gunicorn "$APP/django" mysite.wsgi:application --worker-class gthread --threads 15
  ready_ms "http://127.0.0.1:$GPORT/" "$DJANGO_BODY" >/dev/null
  load django gunicorn-gthread 2x15 "http://127.0.0.1:$GPORT/"
  stop_gunicorn
fi

# 3. The Django hello under wasgi: 2 and 4 warm instances.
for n in 2 4; do
  name=django-$n
  {
    wasgi_conf "$name" cache
    printf '[groups.g]\ninstances = %s\nmin_instances = %s\n' $n $n
    python_app django '["*"]' g django
  } >"$OUT/$name.toml"
  start_wasgi "$name"
  t=$(ready_ms "http://127.0.0.1:$PORT/" "$DJANGO_BODY")
  r0=$(rss_kib $WPID)
  load django wasgi $n "http://127.0.0.1:$PORT/"
  note "wasgi Django, $n instances: ready in $t ms (first instance $(first_ms "$name") ms), RSS $((r0 / 1024)) MiB when ready, $(($(rss_kib $WPID) / 1024)) MiB after load"
  if [ "$PROFILE" = 1 ] && [ $n = 2 ]; then perf_profile "$name"; fi
  stop_wasgi
done

# 4. Instance start: the first request of a lazily started instance (the
# interpreter starts and imports Django) and instances restored from the
# snapshot (max_requests = 1: every request gets a new one), against the
# plain c=1 p50 above; and the probe, the view timed inside the interpreter.
{
  wasgi_conf aux cache
  printf '[groups.restore]\ninstances = 1\nmin_instances = 0\nmax_requests = 1\n'
  printf '[groups.probe]\ninstances = 1\nmin_instances = 1\n'
  python_app restore '["restore.localhost"]' restore django
  python_app probe '["probe.localhost"]' probe probe
} >"$OUT/aux.toml"
start_wasgi aux
ready_ms "http://127.0.0.1:$PORT/" "$DJANGO_BODY" -H 'Host: probe.localhost' >/dev/null
first=$(curl -s -o "$OUT/body" -w '%{time_total}' -H 'Host: restore.localhost' "http://127.0.0.1:$PORT/")
grep -qF "$DJANGO_BODY" "$OUT/body" || { echo "error: restore site: wrong body" >&2; exit 1; }
rm -f "$OUT/body"
note "wasgi: first request to a lazily started Django instance (interpreter start + Django import + request): $(awk -v t="$first" 'BEGIN {printf "%d", t * 1000}') ms"
row django "wasgi max_requests=1 (restored instance per request)" 1 1 -t1 -c1 -d"$DURATION" --timeout 10s -H 'Host: restore.localhost' "http://127.0.0.1:$PORT/"
read -r pw pwl < <(probe "http://127.0.0.1:$PORT/" -H 'Host: probe.localhost')
stop_wasgi
pa=- pal=-
if [ $APACHE = 1 ]; then
  start_apache probe "$APP/probe/timed.py" "$APP/probe:$APP/django"
  ready_ms "http://127.0.0.1:$APORT/" "$DJANGO_BODY" >/dev/null
  read -r pa pal < <(probe "http://127.0.0.1:$APORT/")
  stop_apache
fi
pn=$(cd "$APP/django" && /usr/bin/python3 - <<'EOF'
import io, time
from mysite.wsgi import application
env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SCRIPT_NAME": "", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
       "SERVER_PORT": "8190", "HTTP_HOST": "127.0.0.1:8190", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
       "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0), "wsgi.multithread": False,
       "wsgi.multiprocess": True, "wsgi.run_once": False}
ts = []
for i in range(2300):
    t0 = time.perf_counter_ns()
    it = application(dict(env), lambda s, h, e=None: None)
    b"".join(it)
    it.close()
    ts.append(time.perf_counter_ns() - t0)
ts = sorted(ts[300:])
print(ts[len(ts) // 2] // 1000)
EOF
)
note "the Django hello view's own time, timed inside the interpreter (median, c=1), and the request's p50 seen by wrk, in µs:"
note "  native CPython, in process, no server: $pn"
note "  Apache + mod_wsgi: $pa of $pal"
note "  wasgi: $pw of $pwl"

# 5. Flask hello.
if [ $APACHE = 1 ]; then
  start_apache flask "$APP/flask/hello_flask.py" "$APP/flask"
  ready_ms "http://127.0.0.1:$APORT/" "$FLASK_BODY" >/dev/null
  load flask apache-mod_wsgi 2x15 "http://127.0.0.1:$APORT/"
  stop_apache
fi
if [ $GUNICORN = 1 ]; then
  start_gunicorn "$APP/flask" hello_flask:application
  ready_ms "http://127.0.0.1:$GPORT/" "$FLASK_BODY" >/dev/null
  load flask gunicorn-sync 2 "http://127.0.0.1:$GPORT/"
  start_gunicorn "$APP/flask" hello_flask:application --worker-class gthread --threads 15
  ready_ms "http://127.0.0.1:$GPORT/" "$FLASK_BODY" >/dev/null
  load flask gunicorn-gthread 2x15 "http://127.0.0.1:$GPORT/"
  stop_gunicorn
fi
name=flask-2
{
  wasgi_conf "$name" cache
  printf '[groups.g]\ninstances = 2\nmin_instances = 2\n'
  python_app flask '["*"]' g flask
} >"$OUT/$name.toml"
start_wasgi "$name"
ready_ms "http://127.0.0.1:$PORT/" "$FLASK_BODY" >/dev/null
load flask wasgi 2 "http://127.0.0.1:$PORT/"
stop_wasgi

# --- report -----------------------------------------------------------------
echo
echo "| app | server | instances | conns | req/s | p50 | p99 | CPU/req | errors | req/s vs Apache | vs gunicorn sync | vs gunicorn gthread |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
awk -F'\t' 'function ms(us) { return us >= 10000 ? sprintf("%.0f ms", us / 1000) : sprintf("%.2f ms", us / 1000) }
  NR > 1 { n++; row[n] = $0; k = $1 SUBSEP $4; if ($2 == "apache-mod_wsgi") ap[k] = $5; if ($2 == "gunicorn-sync") gs[k] = $5; if ($2 == "gunicorn-gthread") gt[k] = $5 }
  END { for (i = 1; i <= n; i++) { split(row[i], f, "\t"); k = f[1] SUBSEP f[4]; plain = f[2] !~ /max_requests/
    ra = (k in ap && ap[k] > 0 && plain) ? sprintf("%.2f", f[5] / ap[k]) : ""
    rs = (k in gs && gs[k] > 0 && plain) ? sprintf("%.2f", f[5] / gs[k]) : ""
    rt = (k in gt && gt[k] > 0 && plain) ? sprintf("%.2f", f[5] / gt[k]) : ""
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[4], f[5], ms(f[6]), ms(f[7]), ms(f[10]), f[8], ra, rs, rt } }' "$RESULTS"
echo
cat "$NOTES"
echo
apachev=; [ $APACHE = 1 ] && apachev="Apache $(apache2 -v | head -1 | cut -d' ' -f3 | cut -d/ -f2), mod_wsgi $(dpkg-query -W -f '${Version}' libapache2-mod-wsgi-py3), "
gunicornv=; [ $GUNICORN = 1 ] && gunicornv="gunicorn $(dpkg-query -W -f '${Version}' gunicorn), "
echo "Django $(dpkg-query -W -f '${Version}' python3-django), Flask $(dpkg-query -W -f '${Version}' python3-flask), native $(/usr/bin/python3 --version)," \
  "wasm CPython $(ls "$PYRT.build/src" 2>/dev/null | sed -n 's/^python3.11_\(.*\)\.dsc$/\1/p' | grep . || echo 3.11) (python-wsgi.wasm), ${apachev}${gunicornv}wrk $(dpkg-query -W -f '${Version}' wrk)," \
  "wazero $(awk '$1 == "github.com/tetratelabs/wazero" {print $2}' ../go.mod), $(go version | cut -d' ' -f3), $(nproc) cores, $(date -u +%Y-%m-%d)"
