#!/usr/bin/env bash
# make bench, step "shared" (issue 12): several daemons on one PostgreSQL store against one
# daemon on the embedded store, end to end on this machine.
#   The same N pre-generated contract messages of the Bishan plant (16 lines; takt-sim --out)
#   are published at QoS 1 at full speed by Benchmarks/mosquitto-bare/replay_pub.c into
#   (s) one taktd with its journal and SQLite store,
#   (p1) one taktd on PostgreSQL sharing lines (leases; no journal, PUBACK after commit),
#   (p2), (p3) two and three such daemons (the 16 lines balanced 8/8, 6/5/5),
#   and (a) Benchmarks/mosquitto-bare/bare_sub.c, a subscriber that only counts: the ceiling the
#   broker and the publisher set on this machine (no daemon can receive faster than that).
#   Rate = N / (publisher start → the store's site counters hold all N, or the last message
#   received by (a)); medians of RUNS. Commit latency p50/p99 from the daemons'
#   takt_commit_latency_seconds histograms (/metrics), summed over the runs of a subject.
# Prints a Markdown table on stdout. Environment: RUNS (3), N (300000), SCRATCH (.build-bench),
# BIN (default $SCRATCH/release, built when missing), SUBJECTS ("s p1 p2 p3").
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

RUNS=${RUNS:-3}
N=${N:-300000}
SCRATCH=${SCRATCH:-.build-bench}
BIN=${BIN:-$SCRATCH/release}
SUBJECTS=${SUBJECTS:-a s p1 p2 p3}
PLANT=Config/plant-bishan.yaml
WORK=$(mktemp -d /tmp/takt-bench-shared.XXXXXX)
PIDS=()
PG_DIR=""
PG_BIN=$(postgres_bin)
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$PG_DIR" ] && stop_postgres "$PG_DIR"
  rm -rf "$WORK"
  exit $code
}
trap cleanup EXIT
trap 'echo "bench-shared: interrupted" >&2; exit 130' INT TERM
log() { echo "bench-shared: $*" >&2; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p" "$2" | tail -1; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
scripts/install-deps.sh >&2
if [ ! -x "$BIN/taktd" ] || [ ! -x "$BIN/takt-sim" ]; then
  log "building release binaries in $SCRATCH…"
  swift build -c release --scratch-path "$SCRATCH" 2>&1 | grep -E "error|Build complete" >&2 || true
fi
MOSQ_FLAGS=$(pkg-config --cflags --libs libmosquitto)
cc -O2 -o "$WORK/replay_pub" Benchmarks/mosquitto-bare/replay_pub.c $MOSQ_FLAGS
cc -O2 -o "$WORK/bare_sub" Benchmarks/mosquitto-bare/bare_sub.c $MOSQ_FLAGS
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

# PostgreSQL: a cluster of our own on a free port (as the tests start it).
PG_PORT=$(free_port)
chmod 755 "$WORK"
PG_DIR="$WORK/pg"
start_postgres "$PG_DIR" "$PG_PORT"
psql_() { psql -h 127.0.0.1 -p "$PG_PORT" -U takt -At "$@"; }

# The stream: N messages of the Bishan plant, QoS-independent lines of topic<TAB>payload.
STREAM="$WORK/stream.tsv"
"$BIN/takt-sim" --plant "$PLANT" --out "$STREAM.all" --duration 1d --speed max --seed 12 --from 2026-10-01T00:00:00Z >/dev/null 2>&1
head -n "$N" "$STREAM.all" > "$STREAM" && rm -f "$STREAM.all"
[ "$(wc -l < "$STREAM")" -eq "$N" ] || { log "the simulator gave fewer than $N messages"; exit 1; }

start_broker() {  # sets PORT, BROKER_PID
  PORT=$(free_port)
  local dir="$WORK/broker-$PORT"
  mkdir -p "$dir"
  write_mosquitto_conf "$dir" "$PORT"
  "$MOSQUITTO" -c "$dir/mosquitto.conf" > "$dir/log" 2>&1 &
  BROKER_PID=$!
  PIDS+=($BROKER_PID)
  wait_port "$PORT" || { log "mosquitto did not start"; exit 1; }
}
# Starts one taktd; waits until its status is online (with COUNT lines listed when shared).
start_taktd() {  # NAME STORE_ARGS... → sets LAST_PID
  local name=$1; shift
  local http
  http=$(free_port)
  HTTP_PORTS+=("$http")
  "$BIN/taktd" --broker "mqtt://127.0.0.1:$PORT" --plant "$PLANT" --data-dir "$WORK/data-$name" --instance "$name" \
    --http "127.0.0.1:$http" "$@" >> "$WORK/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=($LAST_PID)
}
wait_online() {  # NAME PID
  for _ in $(seq 600); do
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "takt/v1/status/$1" -C 1 -W 1 2>/dev/null | grep -q '"online":true' && return 0
    kill -0 "$2" 2>/dev/null || { log "taktd $1 did not start"; cat "$WORK/$1.log" >&2; exit 1; }
  done
  return 1
}
# Waits until every line of the plant has a live lease held by a running generation and the
# share is balanced (each daemon's status lists ⌊16/K⌋ or ⌈16/K⌉ lines).
wait_shared() {  # K
  for _ in $(seq 600); do
    local live
    live=$(psql_ -d "$DB" -c "SELECT count(*) FROM line_lease WHERE expires_at > clock_timestamp()" 2>/dev/null || echo 0)
    local shares
    shares=$( (psql_ -d "$DB" -c "SELECT count(*) FROM line_lease WHERE expires_at > clock_timestamp() GROUP BY owner" 2>/dev/null || true) | sort -n | tr '\n' ' ')
    local want_low=$(( 16 / $1 )) ok=1
    [ "$live" = 16 ] || ok=0
    [ "$(echo $shares | wc -w)" = "$1" ] || ok=0
    for s in $shares; do [ "$s" -ge "$want_low" ] && [ "$s" -le $(( want_low + 1 )) ] || ok=0; done
    [ $ok = 1 ] && { sleep 2; return 0; }  # the last generation subscribing
    sleep 0.2
  done
  log "the lines never balanced over $1 daemons"; exit 1
}
committed_sqlite() { sqlite3 "$1" "SELECT COALESCE(SUM(accepted+duplicates+dead_letters),0) FROM site_counters" 2>/dev/null || echo 0; }
committed_pg() { psql_ -d "$DB" -c "SELECT COALESCE(SUM(accepted+duplicates+dead_letters),0) FROM site_counters" 2>/dev/null || echo 0; }

run() {  # SUBJECT RUN → prints the rate
  local subject=$1 r=$2 pids=()
  HTTP_PORTS=()
  start_broker
  DB="bench_${subject}_$r"
  case $subject in
    a)
      "$WORK/bare_sub" "$PORT" "$N" 1 > "$WORK/sub-$r" 2>&1 &
      local sub=$!
      for _ in $(seq 600); do grep -q '^ready' "$WORK/sub-$r" 2>/dev/null && break; sleep 0.05; done
      "$WORK/replay_pub" "$PORT" "$STREAM" 1 1000 > "$WORK/pub-a-$r"
      wait "$sub" || true
      kill -TERM "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
      rm -rf "$WORK/broker-$PORT"
      local last
      last=$(field last_wall "$WORK/sub-$r")
      [ -n "$last" ] || { log "bare_sub did not receive all $N messages: $(cat "$WORK/sub-$r")"; echo nan; return; }
      awk -v n="$N" -v a="$(field start_wall "$WORK/pub-a-$r")" -v b="$last" 'BEGIN {printf "%.0f\n", n / (b - a)}'
      return
      ;;
    s)
      start_taktd "s$r"
      pids+=($LAST_PID)
      wait_online "s$r" "${pids[0]}"
      ;;
    p*)
      local k=${subject#p}
      psql_ -d postgres -c "CREATE DATABASE $DB" >/dev/null
      for i in $(seq "$k"); do
        start_taktd "p$r-$i" --store "postgres://takt@127.0.0.1:$PG_PORT/$DB"
        pids+=($LAST_PID)
      done
      wait_shared "$k"
      ;;
  esac
  "$WORK/replay_pub" "$PORT" "$STREAM" 1 1000 > "$WORK/pub-$subject-$r"
  local start_wall
  start_wall=$(field start_wall "$WORK/pub-$subject-$r")
  for _ in $(seq 30000); do
    local c
    if [ "$subject" = s ]; then c=$(committed_sqlite "$WORK/data-s$r/takt.sqlite"); else c=$(committed_pg); fi
    [ "$c" -ge "$N" ] && break
    sleep 0.02
  done
  local done_wall
  done_wall=$(now)
  for http in "${HTTP_PORTS[@]}"; do
    curl -s "http://127.0.0.1:$http/metrics" | grep '^takt_commit_latency_seconds_bucket' >> "$WORK/latency-$subject" || true
  done
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  kill -TERM "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
  rm -rf "$WORK"/data-* "$WORK/broker-$PORT"
  awk -v n="$N" -v a="$start_wall" -v b="$done_wall" 'BEGIN {printf "%.0f\n", n / (b - a)}'
}

# Commit latency p50/p99 of a file of takt_commit_latency_seconds_bucket lines (several daemons'
# and runs: the buckets are summed); a quantile is the upper bound of the bucket it falls in.
latency_of() {  # FILE
  [ -s "$1" ] || { echo "–"; return; }
  python3 - "$1" <<'PY'
import re, sys
buckets = {}
for line in open(sys.argv[1]):
    m = re.search(r'le="([^"]+)"\}\s+([0-9.e+]+)', line)
    if m:
        buckets[m.group(1)] = buckets.get(m.group(1), 0) + float(m.group(2))
bounds = sorted((float("inf") if k == "+Inf" else float(k), v) for k, v in buckets.items())
total = bounds[-1][1] if bounds else 0
def q(p):
    for le, count in bounds:
        if count >= p * total:
            return "> 10 s" if le == float("inf") else f"≤ {le * 1000:g} ms"
    return "–"
print(f"{q(0.5)} / {q(0.99)} ({int(total)} commits)" if total else "–")
PY
}

declare -A RATE RUNS_OF LATENCY
for subject in $SUBJECTS; do
  rates=()
  for r in $(seq "$RUNS"); do
    run "$subject" "$r" > "$WORK/rate"
    rates+=("$(cat "$WORK/rate")")
    log "$subject run $r: ${rates[-1]} msg/s"
  done
  RATE[$subject]=$(printf '%s\n' "${rates[@]}" | median)
  RUNS_OF[$subject]=$(printf '%s\n' "${rates[@]}" | paste -sd, | sed 's/,/, /g')
  LATENCY[$subject]=$(latency_of "$WORK/latency-$subject")
done

{
echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average before the run: $LOAD0;"
echo "$N messages of the Bishan plant (16 lines), QoS 1, Mosquitto with Config/mosquitto.conf, PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') with fsync on, all on this machine."
echo
echo "| daemons | store | messages/s (median of $RUNS) | ratio | of the ceiling (a) | commit latency p50 / p99 | runs |"
echo "| --- | --- | ---: | ---: | ---: | --- | --- |"
base=${RATE[s]:-}
for subject in $SUBJECTS; do
  case $subject in a) what="(a) | none: bare_sub.c counts";; s) what="1 | SQLite (journal)";; p1) what="1 | PostgreSQL, shared lines";; p*) what="${subject#p} | PostgreSQL, shared lines";; esac
  ratio=""
  case $subject in
    p1) [ -n "$base" ] && ratio=$(awk -v a="${RATE[p1]}" -v b="$base" 'BEGIN {printf "%.2f× SQLite", a / b}');;
    p2|p3) [ -n "${RATE[p1]:-}" ] && ratio=$(awk -v a="${RATE[$subject]}" -v b="${RATE[p1]}" 'BEGIN {printf "%.2f× one", a / b}');;
  esac
  ceiling=""
  [ "$subject" != a ] && [ -n "${RATE[a]:-}" ] && ceiling=$(awk -v a="${RATE[$subject]}" -v b="${RATE[a]}" 'BEGIN {printf "%.2f", a / b}')
  echo "| $what | ${RATE[$subject]} | $ratio | $ceiling | ${LATENCY[$subject]:-} | ${RUNS_OF[$subject]} |"
done
} > "$WORK/table.md"
cat "$WORK/table.md"
# Into docs/BENCHMARKS.md, between the shared:start / shared:end markers (added when missing).
if [ -n "${OUT:-docs/BENCHMARKS.md}" ] && [ "${WRITE:-1}" = 1 ]; then
  python3 - "${OUT:-docs/BENCHMARKS.md}" "$WORK/table.md" <<'PY'
import sys
path, table = sys.argv[1], open(sys.argv[2]).read()
text = open(path).read()
start, end = "<!-- shared:start -->", "<!-- shared:end -->"
block = f"{start}\n{table}{end}"
if start in text and end in text:
    text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n## Several daemons on PostgreSQL (make bench, scripts/bench-shared.sh)\n\n" + block + "\n"
open(path, "w").write(text)
PY
fi
