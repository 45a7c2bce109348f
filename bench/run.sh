#!/usr/bin/env bash
# Load test, one run on this machine, 127.0.0.1 only, bounded in time:
# wasgi against a native Go net/http server doing the same work (the limit
# of this stack), Apache 2.4 + mod_wsgi in daemon mode (processes=2
# threads=15) running the same cases as a plain WSGI app, and nginx and
# Caddy (file_server) for static files. Apache, mod_wsgi, nginx, Caddy and
# wrk come from Debian packages,
# installed here when missing (PEERS=0 skips them; without wrk the Go load
# generator in bench/load is used).
#
#   bash bench/run.sh                  # 5 s per case
#   DURATION=10s bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")"
. ./lib.sh
DURATION=${DURATION:-5s}
PEERS=${PEERS:-1}
BENCH=$(pwd)
OUT=$BENCH/out
mkdir -p "$OUT/static" "$OUT/apache" "$OUT/nginx"
chmod 755 "$OUT" "$OUT/static" "$OUT/apache"

# --- the peers, from Debian -------------------------------------------------
[ "$PEERS" = 1 ] && install_debs apache2 libapache2-mod-wsgi-py3 nginx caddy wrk
APACHE=0; NGINX=0; CADDY=0
[ "$PEERS" = 1 ] && command -v apache2 >/dev/null && [ -e /usr/lib/apache2/modules/mod_wsgi.so ] && APACHE=1
[ "$PEERS" = 1 ] && command -v nginx >/dev/null && NGINX=1
[ "$PEERS" = 1 ] && command -v caddy >/dev/null && CADDY=1

# --- build ------------------------------------------------------------------
WASM="env GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared"
$WASM -o "$OUT/hello.wasm" ../examples/hello
$WASM -o "$OUT/guest.wasm" ../testdata/guest
C=0
if clang --target=wasm32-wasi -mexec-model=reactor -O2 -I ../abi/include -o "$OUT/c-hello.wasm" ../examples/c-hello/hello.c 2>/dev/null; then C=1; fi
go build -o "$OUT/wasgi" ../cmd/wasgi
go build -o "$OUT/native" ./native
go build -o "$OUT/load" ./load
head -c 4096 /dev/urandom >"$OUT/static/4k.bin"
head -c 1048576 /dev/urandom >"$OUT/static/1m.bin"
chmod 644 "$OUT"/static/*.bin

# --- configs ----------------------------------------------------------------
sed 's|^root = "out"|root = "."|' bench.toml >"$OUT/bench.toml"
[ $C = 1 ] && cat c.toml >>"$OUT/bench.toml"
sed -i 's|^cache_dir = "out/cache"|cache_dir = "cache"|' "$OUT/bench.toml"

{ apache_conf_head "$OUT/apache" 8093; cat <<EOF; } >"$OUT/apache/httpd.conf"
WSGIDaemonProcess bench processes=2 threads=15 display-name=%{GROUP}
WSGIProcessGroup bench
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias / $BENCH/wsgi/app.wsgi
<Directory $BENCH/wsgi>
  Require all granted
</Directory>
EOF
cat >"$OUT/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  include /etc/nginx/mime.types;
  client_body_temp_path $OUT/nginx;
  proxy_temp_path $OUT/nginx;
  fastcgi_temp_path $OUT/nginx;
  uwsgi_temp_path $OUT/nginx;
  scgi_temp_path $OUT/nginx;
  server {
    listen 127.0.0.1:8094;
    location /static/ { alias $OUT/static/; }
  }
}
EOF

# --- start ------------------------------------------------------------------
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$OUT/apache/httpd.pid" ] && kill "$(cat "$OUT/apache/httpd.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
(cd "$OUT" && exec ${WASGI_ENV:-} ./wasgi serve -c bench.toml 2>wasgi.log) &
PIDS+=($!)
env -i "$OUT/native" -addr 127.0.0.1:8091 -static "$OUT/static" &
PIDS+=($!)
if [ $APACHE = 1 ]; then
  apache2 -f "$OUT/apache/httpd.conf" -DFOREGROUND &
  PIDS+=($!)
fi
if [ $NGINX = 1 ]; then
  nginx -c "$OUT/nginx/nginx.conf" -e "$OUT/nginx/error.log" &
  PIDS+=($!)
fi
if [ $CADDY = 1 ]; then
  # Caddy's own file server, no access log, its state kept under out/.
  (cd "$OUT" && exec env XDG_DATA_HOME="$OUT/caddy" XDG_CONFIG_HOME="$OUT/caddy" caddy file-server --listen 127.0.0.1:8095 --root "$OUT" 2>"$OUT/caddy.log") &
  PIDS+=($!)
fi
wait_up http://127.0.0.1:8090/
wait_up http://127.0.0.1:8091/
[ $APACHE = 1 ] && { wait_up http://127.0.0.1:8093/ || APACHE=0; }
[ $NGINX = 1 ] && { wait_up http://127.0.0.1:8094/static/4k.bin || NGINX=0; }
[ $CADDY = 1 ] && { wait_up http://127.0.0.1:8095/static/4k.bin || CADDY=0; }

# --- measure ----------------------------------------------------------------
WRK=0; command -v wrk >/dev/null && WRK=1
RESULTS=$OUT/results.tsv
printf 'case\tserver\tconns\treq/s\tp50_us\tp99_us\n' >"$RESULTS"
measure() { # case server conns url [post]
  local cs=$1 srv=$2 c=$3 url=$4 post=${5:-}
  if [ $WRK = 1 ]; then
    local t=2; [ "$c" = 1 ] && t=1
    local args=(-t$t -c"$c" -d"$DURATION")
    [ -n "$post" ] && args+=(-s post.lua)
    local rps p50 p99 _
    IFS=$'\t' read -r rps p50 p99 _ < <(wrk_stats "${args[@]}" "$url")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$cs" "$srv" "$c" "$rps" "$p50" "$p99" | tee -a "$RESULTS"
  else
    local args=(-url "$url" -c "$c" -d "$DURATION")
    [ -n "$post" ] && args+=(-body 65536)
    "$OUT/load" "${args[@]}" -us | awk -v cs="$cs" -v srv="$srv" -v c="$c" -F'\t' '{ printf "%s\t%s\t%s\t%s\t%s\t%s\n", cs, srv, c, $2, $3, $4 }' | tee -a "$RESULTS"
  fi
}
for c in 1 64; do
  measure hello native $c http://127.0.0.1:8091/hello
  measure hello wasgi $c http://127.0.0.1:8090/hello
  [ $C = 1 ] && measure hello wasgi-c $c http://127.0.0.1:8090/c/hello
  [ $APACHE = 1 ] && measure hello apache-mod_wsgi $c http://127.0.0.1:8093/hello
  measure env native $c http://127.0.0.1:8091/env
  measure env wasgi $c http://127.0.0.1:8090/g/env
  [ $APACHE = 1 ] && measure env apache-mod_wsgi $c http://127.0.0.1:8093/env
  measure post64k native $c http://127.0.0.1:8091/echo post
  measure post64k wasgi $c http://127.0.0.1:8090/g/echo post
  [ $APACHE = 1 ] && measure post64k apache-mod_wsgi $c http://127.0.0.1:8093/echo post
  for f in 4k 1m; do
    measure static$f native $c http://127.0.0.1:8091/static/$f.bin
    measure static$f wasgi $c http://127.0.0.1:8090/static/$f.bin
    [ $NGINX = 1 ] && measure static$f nginx $c http://127.0.0.1:8094/static/$f.bin
    [ $CADDY = 1 ] && measure static$f caddy $c http://127.0.0.1:8095/static/$f.bin
  done
done

echo
echo "ratios against native Go net/http, same case and connections (req/s; p99 as a multiple):"
awk -F'\t' 'NR > 1 { k = $1 " c=" $3; if ($2 == "native") { n[k] = $4; l[k] = $6 } else { r[k, $2] = $4; q[k, $2] = $6; s[$2] = 1; keys[k] = 1 } }
  END { for (k in keys) for (v in s) if ((k, v) in r && n[k] > 0)
    printf "  %-14s %-16s %6.3f   p99 %5.1fx\n", k, v, r[k, v] / n[k], (l[k] > 0 ? q[k, v] / l[k] : 0) }' "$RESULTS" | sort
echo
echo "static files: wasgi's req/s against nginx's and Caddy's, same file and connections:"
awk -F'\t' 'NR > 1 && $1 ~ /^static/ { k = $1 " c=" $3; v[k, $2] = $4; keys[k] = 1 }
  END { for (k in keys) { line = sprintf("  %-16s", k)
    if ((k, "nginx") in v && v[k, "nginx"] > 0) line = line sprintf("  vs nginx %.2f", v[k, "wasgi"] / v[k, "nginx"])
    if ((k, "caddy") in v && v[k, "caddy"] > 0) line = line sprintf("  vs Caddy %.2f", v[k, "wasgi"] / v[k, "caddy"])
    print line } }' "$RESULTS" | sort
echo
loadgen=bench/load; [ $WRK = 1 ] && loadgen="wrk $(dpkg-query -W -f '${Version}' wrk 2>/dev/null)"
apachev=; [ $APACHE = 1 ] && apachev="$(apache2 -v | head -1 | cut -d' ' -f3), mod_wsgi $(dpkg-query -W -f '${Version}' libapache2-mod-wsgi-py3 2>/dev/null), "
nginxv=; [ $NGINX = 1 ] && nginxv="$(nginx -v 2>&1 | cut -d' ' -f3), "
[ $CADDY = 1 ] && nginxv="${nginxv}caddy $(caddy version | cut -d' ' -f1), "
echo "load: $loadgen; $(go version | cut -d' ' -f3); ${apachev}${nginxv}$(nproc) cores; $(date -u +%Y-%m-%d)"
