#!/usr/bin/env bash
# The surge benchmark: everybody reads the status page at once.
#
# Runs `candor demo` (a realistic public incident) with the public site on
# its own listener (--public-addr, as a production deployment serves
# status.example.com), then wrk against its status page, Statuspage
# summary.json and in-app alert at 100 and 1,000 connections; in the same
# run, nginx serves byte-identical copies of the same three documents as
# static files, as the ceiling to compare with. The main listener (the
# command center, which also serves /status) is measured too, for
# reference.
#
#   bench/surge.sh [seconds per run, default 10]
#
# Needs wrk and nginx (Debian: apt-get install wrk nginx-light). Prints one
# line per run (requests/s, p50, p99, errors) and the ratio Candor/nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
for c in wrk nginx curl; do
  command -v "$c" >/dev/null || { echo "surge.sh needs $c (apt-get install wrk nginx-light curl)" >&2; exit 1; }
done
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true

work="$(mktemp -d)"
chmod 755 "$work" # nginx's workers read the copies
trap 'kill $(jobs -p) 2>/dev/null; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/candor" ./cmd/candor

mport=18180 cport=18182 nport=18181
"$work/candor" demo --addr 127.0.0.1:$mport --public-addr 127.0.0.1:$cport --dir "$work/demo" --log-level warn >"$work/candor.log" 2>&1 &
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$cport/status" >/dev/null 2>&1 && break; sleep 0.2; done

# nginx serves the very bytes Candor serves.
mkdir -p "$work/www/status" "$work/www/api/v2" "$work/www/api/v1"
curl -fs "http://127.0.0.1:$cport/status" -o "$work/www/status/index.html"
curl -fs "http://127.0.0.1:$cport/api/v2/summary.json" -o "$work/www/api/v2/summary.json"
curl -fs "http://127.0.0.1:$cport/api/v1/alert" -o "$work/www/api/v1/alert.json"
cat >"$work/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 65;
  open_file_cache max=100 inactive=60s;
  etag on;
  types { text/html html; application/json json; }
  server {
    listen 127.0.0.1:$nport backlog=4096;
    root $work/www;
    location = /status { default_type text/html; try_files /status/index.html =404; add_header Cache-Control "public, max-age=15"; }
    location = /api/v2/summary.json { add_header Cache-Control "public, max-age=15"; }
    location = /api/v1/alert { default_type application/json; try_files /api/v1/alert.json =404; add_header Cache-Control "public, max-age=15"; }
  }
}
EOF
nginx -c "$work/nginx.conf" -p "$work" -g 'daemon on;'
sleep 0.5
for p in /status /api/v2/summary.json /api/v1/alert; do
  a=$(curl -s "http://127.0.0.1:$cport$p" | sha256sum) b=$(curl -s "http://127.0.0.1:$nport$p" | sha256sum)
  [ "$a" = "$b" ] || { echo "nginx does not serve the same bytes for $p" >&2; exit 1; }
done

# run SERVER PORT PATH CONNS: one wrk run, one result line.
run() {
  local out rps p50 p99 errs non2xx
  out=$(wrk -t2 -c"$4" -d"${secs}s" --timeout 10s --latency "http://127.0.0.1:$2$3")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Socket errors/ {gsub(",",""); print $4+$6+$8+$10}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-12s %-22s %5s conns  %10s req/s  p50 %-9s p99 %-9s errors %s\n' "$1" "$3" "$4" "$rps" "$p50" "$p99" "$(( ${errs:-0} + ${non2xx:-0} ))"
  echo "$rps" >"$work/last"
}

echo "surge benchmark: $(nproc) cores, ${secs}s per run, wrk -t2, $(date -u +%Y-%m-%dT%H:%MZ)"
for path in /status /api/v2/summary.json /api/v1/alert; do
  for conns in 100 1000; do
    run nginx $nport $path $conns; n=$(cat "$work/last")
    run candor $cport $path $conns; c=$(cat "$work/last")
    run candor-main $mport $path $conns; m=$(cat "$work/last")
    awk -v c="$c" -v m="$m" -v n="$n" 'BEGIN { printf "             ratio to nginx: candor (public listener) %.0f%%, candor main listener %.0f%%\n", 100*c/n, 100*m/n }'
  done
done
