# Shared by the load tests (bench/run.sh, bench/python.sh): sourced, not run.

# install_debs PKG...: installs the Debian packages not yet installed, when
# running as root with apt-get; warns when some are still missing.
install_debs() {
  local need=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  [ ${#need[@]} = 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${need[*]} (Debian packages)..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; } ||
      echo "warning: could not install ${need[*]}" >&2
  else
    echo "warning: missing Debian packages ${need[*]}" >&2
  fi
}

# wait_up URL [CURL_ARGS...]: polls URL until it answers 2xx, 15 s at most.
wait_up() {
  local url=$1; shift
  for _ in $(seq 1 150); do curl -fs -m 5 -o /dev/null "$@" "$url" 2>/dev/null && return 0; sleep 0.1; done
  echo "warning: $url not up" >&2; return 1
}

# to_us: a wrk latency ("812.00us", "1.23ms", "2.01s") in microseconds.
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'; }

# wrk_stats WRK_ARGS...: runs wrk --latency and prints, tab-separated,
# req/s, p50 and p99 in microseconds, errors (non-2xx/3xx responses plus
# socket errors) and the number of requests.
wrk_stats() {
  local o rps p50 p99 err n
  o=$(wrk --latency "$@")
  rps=$(awk '/^Requests\/sec/ {print int($2)}' <<<"$o")
  p50=$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$o")")
  p99=$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$o")")
  err=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$o")
  n=$(awk '/requests in/ {print $1}' <<<"$o")
  printf '%s\t%s\t%s\t%s\t%s\n' "$rps" "$p50" "$p99" "$err" "$n"
}

# apache_conf_head DIR PORT: the top of an httpd.conf for Apache 2.4 (Debian
# layout) with mpm_event and mod_wsgi, listening on 127.0.0.1:PORT, its pid
# file, logs, mutexes and mod_wsgi sockets in DIR (which www-data must be
# able to enter when running as root).
apache_conf_head() {
  cat <<EOF
ServerRoot "/etc/apache2"
ServerName 127.0.0.1
Listen 127.0.0.1:$2
PidFile $1/httpd.pid
Mutex file:$1 default
ErrorLog $1/error.log
LogLevel warn
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule wsgi_module /usr/lib/apache2/modules/mod_wsgi.so
$( [ "$(id -u)" = 0 ] && printf 'User www-data\nGroup www-data\n' )
WSGISocketPrefix $1/wsgi
EOF
}
