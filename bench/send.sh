#!/usr/bin/env bash
# Send benchmark: Candor sending a personalised notice to N recipients through
# ../shared/tools/smtpsink, on SQLite and PostgreSQL, with DKIM off, RSA and
# Ed25519; and smtpblast (DATA) and bench/chunkblast (BDAT) against the
# same sink in the same run, for the machine's ceilings. Figures go to stdout; docs/performance.md explains them.
#
#   bench/send.sh [N]                       (default 100000)
#   CANDOR_BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable bench/send.sh
#
# The PostgreSQL runs create and drop a database named candor_bench_send.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
TOOLS=${CANDOR_TOOLS:-../shared/tools}
PG=${CANDOR_BENCH_PG:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
ADDR=127.0.0.1:2599
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT

go build -o "$OUT/candor" ./cmd/candor
(cd "$TOOLS/smtpsink" && go build -o "$OUT/smtpsink" .)
(cd "$TOOLS/smtpblast" && go build -o "$OUT/smtpblast" .)
go build -o "$OUT/chunkblast" ./bench/chunkblast

sink() { "$OUT/smtpsink" -addr "$ADDR" >"$OUT/sink.log" 2>&1 & SINK=$!; sleep 0.5; }
sink_final() { kill -TERM "$SINK"; wait "$SINK" 2>/dev/null || true; grep FINAL "$OUT/sink.log" | sed 's/^/  sink: /'; }

echo "== smtpblast ceiling: $N messages of 4.8 kB, 20 connections, pipelining"
sink
"$OUT/smtpblast" -addr "$ADDR" -conns 20 -n "$N" -size 4800 -pipeline | sed 's/^/  /'
sink_final

# Candor's notice is about 8.7 kB and goes out with BDAT when the relay
# offers CHUNKING (the sink does): the ceiling for that way of sending.
echo "== chunkblast ceiling: $N messages of 8.8 kB, 20 connections, BDAT"
sink
"$OUT/chunkblast" -addr "$ADDR" -conns 20 -n "$N" -size 8800 | sed 's/^/  /'
sink_final

for db in sqlite postgres; do
  for dkim in none rsa ed25519; do
    echo "== candor bench send: $N recipients, $db, DKIM $dkim"
    dbflag=()
    if [ "$db" = postgres ]; then
      psql "$PG" -qc 'DROP DATABASE IF EXISTS candor_bench_send' -c 'CREATE DATABASE candor_bench_send' >/dev/null
      dbflag=(--db "${PG%%/postgres\?*}/candor_bench_send?sslmode=disable")
    fi
    sink
    /usr/bin/time -f '  process: %e s wall, %M kB max RSS (whole run, seeding included)' \
      "$OUT/candor" bench send "${dbflag[@]}" --smtp-addr "$ADDR" --smtp-security none --recipients "$N" --dkim "$dkim" --log-level warn 2>"$OUT/bench.err" | sed 's/^/  /'
    grep -E 'process:' "$OUT/bench.err" || true
    sink_final
  done
done
