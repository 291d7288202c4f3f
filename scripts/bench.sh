#!/usr/bin/env bash
# make bench (issue 6): every benchmark in one go on this machine, medians of RUNS runs, written
# to the generated section of docs/BENCHMARKS.md (between the bench:start/bench:end markers;
# the rest of the page is kept).
#   1. end to end, Mosquitto on loopback, N pre-generated contract messages (takt-sim --out of
#      the Bishan plant) published at full speed by Benchmarks/mosquitto-bare/replay_pub.c, QoS 1
#      and QoS 0, into (a) bare_sub.c, a libmosquitto subscriber that only counts, (b) taktd with
#      journal and SQLite store, until the last event is committed (site_counters in the store),
#      (c) Benchmarks/paho_sum.py, paho-mqtt + json + dict sums per line and minute;
#   1b. backlog drain: the same stream published at QoS 1 while each subscriber's persistent
#      session is away, then the subscriber starts and drains the broker's queue — the
#      subscriber is the bottleneck here (a plant backfilling, a daemon catching up);
#   1c. Sparkplug B end to end beside the JSON path: takt-sim --dialect takt|sparkplug at full
#      speed into taktd (issue 13);
#   2. in process (takt-bench): decode + validate + dedup + windows on one core — JSON, and
#      Sparkplug B NDATA/DDATA (the same plant and days as edge nodes, takt-sim's encoder) —, store
#      commit per 10,000 events, and peak RSS of taktd for a 1,000-line × 4-station plant;
#   3. takt plan over a year of 1h/1d rollups of the 16-line Bishan plant; the scenario Monte
#      Carlo (issue 15): 10,000 runs × 3 years × 25 lines on one core (taskset), and
#      `takt plan --scenario` end to end on that year's store;
#   4. freshness (issue 16): Benchmarks/mosquitto-bare/fresh_bench.c publishes units at a steady
#      1,000 / 10,000 / 50,000 msg/s for FRESH_SECONDS (30) at QoS 1, then QoS 0, into taktd, and
#      times each output unit from its publish to the metrics row (1m) that includes it.
# Environment: RUNS (3), N (300000), SCRATCH (.build-bench), OUT (docs/BENCHMARKS.md),
# KEEP=1 keeps the work directory, ONLY=… picks steps among e2e,drain,dialects,inproc,live,rss,plan,fresh
# (default: all but rss, which takes ≈ 4 min a run), SUBJECTS="a b" / QOS="0" narrow the end-to-end step while
# working on one of them (the written table then shows only those). FRESH_RATES ("1000 10000
# 50000"), FRESH_SECONDS (30; FRESH_SECONDS=5 is the quick mode) shape step 4. BIN=DIR with
# NO_BUILD=1 (or SKIP_BUILD=1, the same) measures binaries built elsewhere (a before/after comparison); OUT=/dev/null leaves
# the page alone. BUILD_LOCK (/tmp/swift-build.lock, when it exists) serialises the release
# build with other builds on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
N=${N:-300000}
SCRATCH=${SCRATCH:-.build-bench}
OUT=${OUT:-docs/BENCHMARKS.md}
ONLY=${ONLY:-e2e,drain,dialects,inproc,live,plan,fresh}  # add rss for the 4,000-station peak RSS (slow)
FRESH_RATES=${FRESH_RATES:-1000 10000 50000}
FRESH_SECONDS=${FRESH_SECONDS:-30}
FRESH_SSE_RATES=${FRESH_SSE_RATES:-1000 10000}
BUILD_LOCK=${BUILD_LOCK:-/tmp/swift-build.lock}
PLANT=Config/plant-bishan.yaml
WORK=$(mktemp -d /tmp/takt-bench.XXXXXX)
PIDS=()
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] && echo "bench: work directory kept: $WORK" >&2 || rm -rf "$WORK"
  exit $code
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM
log() { echo "bench: $*" >&2; }
want() { [[ ",$ONLY," == *",$1,"* ]]; }

# --- tools ---------------------------------------------------------------------------------
scripts/install-deps.sh
python3 -c 'import paho.mqtt' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check paho-mqtt >/dev/null 2>&1 \
  || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages paho-mqtt
command -v hyperfine >/dev/null || { apt-get install -y -qq hyperfine >/dev/null 2>&1 || true; }
BIN=${BIN:-$SCRATCH/release}
if [ "${NO_BUILD:-${SKIP_BUILD:-0}}" != 1 ]; then
  log "building release binaries in $SCRATCH…"
  LOCK=(); [ -e "$BUILD_LOCK" ] && command -v flock >/dev/null && LOCK=(flock "$BUILD_LOCK")
  "${LOCK[@]}" swift build -c release --scratch-path "$SCRATCH" 2>&1 | grep -E "error|warning: unre|Compiling|Build complete" | grep -v "^\[" || true
else
  log "NO_BUILD=1: using the release binaries already in $BIN"
fi
for b in taktd takt takt-sim takt-bench; do [ -x "$BIN/$b" ] || { log "build failed ($b missing)"; exit 1; }; done
MOSQ_FLAGS=$(pkg-config --cflags --libs libmosquitto)
cc -O2 -o "$WORK/bare_sub" Benchmarks/mosquitto-bare/bare_sub.c $MOSQ_FLAGS
cc -O2 -o "$WORK/replay_pub" Benchmarks/mosquitto-bare/replay_pub.c $MOSQ_FLAGS
cc -O2 -o "$WORK/fresh_bench" Benchmarks/mosquitto-bare/fresh_bench.c $MOSQ_FLAGS -lpthread -lm
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

# --- helpers -------------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
BROKER_PID=""
start_broker() {  # sets PORT, BROKER_PID
  PORT=$(free_port)
  local dir="$WORK/broker-$PORT"
  mkdir -p "$dir"
  { cat Config/mosquitto.conf; echo "listener $PORT 127.0.0.1"; echo "persistence_location $dir/"
    [ "$(id -u)" -eq 0 ] && echo "user root"; } > "$dir/mosquitto.conf"
  "$MOSQUITTO" -c "$dir/mosquitto.conf" > "$dir/log" 2>&1 &
  BROKER_PID=$!
  PIDS+=($BROKER_PID)
  for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return; sleep 0.05; done
  log "mosquitto did not start"; cat "$dir/log" >&2; exit 1
}
stop_pid() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
wait_ready() {  # FILE PID: until FILE has a line "ready"
  for _ in $(seq 600); do grep -q '^ready' "$1" 2>/dev/null && return 0; kill -0 "$2" 2>/dev/null || return 1; sleep 0.05; done
  return 1
}
field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p" "$2" | tail -1; }
kv() { awk -v k="$1" '$1==k {print $2}' "$2" | tail -1; }
counted() {  # STORE: accepted + duplicates + dead letters committed
  sqlite3 "$1" "SELECT COALESCE(SUM(accepted+duplicates+dead_letters),0) FROM site_counters" 2>/dev/null || echo 0
}

# Starts taktd on the current broker and waits until it says it is online; sets TAKTD_PID.
start_taktd() {  # DATA_DIR INSTANCE LOG [PLANT [HTTP_ADDR]]
  local config="$WORK/taktd-$2.yaml"
  # LIVE_STATIONS=all|output (default: taktd's own default) for the ring buffers (issue 14).
  if [ -n "${LIVE_STATIONS:-}" ]; then echo "live_stations: $LIVE_STATIONS" > "$config"; else : > "$config"; fi
  "$BIN/taktd" --config "$config" --broker "mqtt://127.0.0.1:$PORT" --plant "${4:-$PLANT}" --data-dir "$1" --instance "$2" --http "${5:-off}" >> "$3" 2>&1 &
  TAKTD_PID=$!
  PIDS+=($TAKTD_PID)
  for _ in $(seq 600); do
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "takt/v1/status/$2" -C 1 -W 1 2>/dev/null | grep -q '"online":true' && return
    kill -0 $TAKTD_PID 2>/dev/null || { log "taktd did not start"; cat "$3" >&2; exit 1; }
  done
  log "taktd did not come online"; exit 1
}
# Waits until the store in DATA_DIR has committed N messages (≤ 5 min); sets DONE_WALL. One
# Python process reads site_counters every 10 ms on one read-only connection: a `sqlite3` shell
# started every 20 ms cost ~5 % of the 2 cores while (b) ran, CPU the bare subscriber (a) did
# not have to share (figures before issue 16 were measured that way).
wait_committed() {  # DATA_DIR [COUNT (default N)]
  DONE_WALL=$(python3 - "$1/takt.sqlite" "${2:-$N}" <<'PY'
import sqlite3, sys, time
path, n = sys.argv[1], int(sys.argv[2])
deadline, db = time.time() + 300, None
while time.time() < deadline:
    try:
        db = db or sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        if db.execute("SELECT COALESCE(SUM(accepted+duplicates+dead_letters),0) FROM site_counters").fetchone()[0] >= n:
            break
    except sqlite3.Error:
        db = None
    time.sleep(0.01)
print("%.6f" % time.time())
PY
)
}
# Waits for a subscriber (a or c) to exit after its last message (≤ 5 min); sets DONE_WALL and
# LOST (0, or "timeout" when it had to be stopped).
wait_subscriber() {  # PID OUTPUT_FILE
  LOST=0
  for _ in $(seq 6000); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$1" 2>/dev/null; then
    stop_pid "$1"
    DONE_WALL=$(now); LOST=timeout
  else
    wait "$1" || true
    DONE_WALL=$(field last_wall "$2")
  fi
}
# Sets LOST (N minus the messages taktd accepted into the store in DATA_DIR), stops taktd and
# removes its data.
stop_taktd() {  # DATA_DIR
  LOST=$(( N - $(sqlite3 "$1/takt.sqlite" "SELECT COALESCE(SUM(accepted),0) FROM site_counters") ))
  stop_pid $TAKTD_PID
  rm -rf "$1"
}
# Stops the run's broker and prints "rate lost": N / (DONE_WALL − START_WALL), LOST.
end_run() {  # START_WALL
  stop_pid $BROKER_PID
  rm -rf "$WORK/broker-$PORT"
  awk -v n="$N" -v a="$1" -v b="$DONE_WALL" -v l="$LOST" 'BEGIN {printf "%.0f %s\n", n / (b - a), l}'
}

# One end-to-end run. Prints "rate lost" (messages/s from the publisher's start to the last
# message received / committed; lost = N − received / accepted).
run_sub() {  # SUBJECT(a|b|c) QOS RUN
  local subject=$1 qos=$2 run=$3 out="$WORK/e2e-$1-q$2-$3"
  start_broker
  local start_wall sub
  case $subject in
    a|c)
      if [ "$subject" = a ]; then "$WORK/bare_sub" "$PORT" "$N" "$qos" > "$out.sub" 2>&1 &
      else python3 Benchmarks/paho_sum.py "$PORT" "$N" "$qos" > "$out.sub" 2>&1 & fi
      sub=$!
      PIDS+=($sub)
      wait_ready "$out.sub" $sub || { log "subscriber $subject did not start"; cat "$out.sub" >&2; exit 1; }
      "$WORK/replay_pub" "$PORT" "$STREAM" "$qos" 1000 > "$out.pub"
      start_wall=$(field start_wall "$out.pub")
      wait_subscriber $sub "$out.sub"
      ;;
    b)
      local data="$WORK/taktd-$qos-$run"
      start_taktd "$data" "bench$qos$run" "$out.log"
      "$WORK/replay_pub" "$PORT" "$STREAM" "$qos" 1000 > "$out.pub"
      start_wall=$(field start_wall "$out.pub")
      wait_committed "$data"
      grep VmHWM /proc/$TAKTD_PID/status | awk '{print $2}' > "$out.rss" || true
      # taktd's own CPU (user + system, s) for the run: unlike the rates, barely moved by other load.
      awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' /proc/$TAKTD_PID/stat > "$out.cpu" || true
      log "taktd CPU $(cat "$out.cpu") s (load $(cut -d" " -f1 /proc/loadavg))"
      stop_taktd "$data"
      # A loss: did the broker drop (its queues full)? Its $SYS counter, published every 10 s.
      [ "$LOST" = 0 ] || log "taktd lost $LOST; broker dropped: $(mosquitto_sub -h 127.0.0.1 -p "$PORT" -t '$SYS/broker/publish/messages/dropped' -C 1 -W 12 2>/dev/null || echo '?')"
      ;;
  esac
  end_run "$start_wall"
}

# One backlog run: the subscriber's persistent session is created, the N messages are published
# at QoS 1 while it is away (the broker queues them), then the subscriber starts and drains the
# queue. Prints "rate lost": N / (time from the subscriber's start to its last message received
# (a, c) or event committed (b)).
run_drain() {  # SUBJECT RUN
  local subject=$1 run=$2 out="$WORK/drain-$1-$2"
  start_broker
  local start_wall sub id="drain-$1-$2"
  case $subject in
    a|c)
      if [ "$subject" = a ]; then "$WORK/bare_sub" "$PORT" 0 1 "takt/v1/#" "$id" > "$out.init" 2>&1
      else python3 Benchmarks/paho_sum.py "$PORT" 0 1 "$id" > "$out.init" 2>&1; fi
      "$WORK/replay_pub" "$PORT" "$STREAM" 1 1000 > "$out.pub"
      start_wall=$(now)
      if [ "$subject" = a ]; then "$WORK/bare_sub" "$PORT" "$N" 1 "takt/v1/#" "$id" > "$out.sub" 2>&1 &
      else python3 Benchmarks/paho_sum.py "$PORT" "$N" 1 "$id" > "$out.sub" 2>&1 & fi
      sub=$!
      PIDS+=($sub)
      wait_subscriber $sub "$out.sub"
      ;;
    b)
      local data="$WORK/taktd-drain-$run"
      start_taktd "$data" "$id" "$out.log"
      stop_pid $TAKTD_PID  # the intake's session stays; the broker queues for it
      "$WORK/replay_pub" "$PORT" "$STREAM" 1 1000 > "$out.pub"
      start_wall=$(now)
      "$BIN/taktd" --broker "mqtt://127.0.0.1:$PORT" --plant "$PLANT" --data-dir "$data" --instance "$id" >> "$out.log" 2>&1 &
      TAKTD_PID=$!
      PIDS+=($TAKTD_PID)
      wait_committed "$data"
      stop_taktd "$data"
      ;;
  esac
  end_run "$start_wall"
}

# --- machine -------------------------------------------------------------------------------
CPU=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
SWIFTV=$(swift --version 2>&1 | head -1)
MOSQV=$( { "$MOSQUITTO" -h 2>&1 || true; } | head -1 | sed 's/ is an MQTT.*//')
PAHOV=$(python3 -c 'import paho.mqtt; print(paho.mqtt.__version__)')
PYV=$(python3 --version 2>&1)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE=$(date -u +%Y-%m-%dT%H:%MZ)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
declare -A R

# --- 1. end to end -------------------------------------------------------------------------
STREAM="$WORK/stream.tsv"
if want e2e || want drain || want live; then
  log "generating $N messages (takt-sim --out, Bishan)…"
  # Bishan sends ~35,000 messages an hour of plant time: enough hours for N, at least 10.
  "$BIN/takt-sim" --plant "$PLANT" --speed max --duration "$(( N / 30000 + 10 ))h" --seed 6 --out "$WORK/sim.tsv" 2>/dev/null
  head -n "$N" "$WORK/sim.tsv" > "$STREAM"
  rm -f "$WORK/sim.tsv"
  [ "$(wc -l < "$STREAM")" -eq "$N" ] || { log "the simulator wrote fewer than $N messages"; exit 1; }
fi
if want e2e; then
  for qos in ${QOS:-1 0}; do
    for run in $(seq "$RUNS"); do
      for s in ${SUBJECTS:-a b c}; do
        read -r rate lost < <(run_sub $s $qos $run)
        log "QoS $qos run $run ($s): $rate msg/s, lost $lost"
        echo "$rate" >> "$WORK/rate-$s-$qos"
        echo "$lost" >> "$WORK/lost-$s-$qos"
      done
    done
    for s in ${SUBJECTS:-a b c}; do
      R[rate-$s-$qos]=$(median < "$WORK/rate-$s-$qos")
      R[runs-$s-$qos]=$(paste -sd, "$WORK/rate-$s-$qos" | sed 's/,/, /g')
      R[lost-$s-$qos]=$(sort -u "$WORK/lost-$s-$qos" | paste -sd/)
    done
    R[rss-b-$qos]=$(cat "$WORK"/e2e-b-q$qos-*.rss 2>/dev/null | median)
    R[cpu-b-$qos]=$(cat "$WORK"/e2e-b-q$qos-*.cpu 2>/dev/null | median)
    R[cpu-runs-b-$qos]=$(cat "$WORK"/e2e-b-q$qos-*.cpu 2>/dev/null | paste -sd, | sed 's/,/, /g')
  done
fi

# --- 1b. backlog drain ----------------------------------------------------------------------
if want drain; then
  for run in $(seq "$RUNS"); do
    for s in ${SUBJECTS:-a b c}; do
      read -r rate lost < <(run_drain $s $run)
      log "backlog run $run ($s): $rate msg/s, lost $lost"
      echo "$rate" >> "$WORK/drain-rate-$s"
      echo "$lost" >> "$WORK/drain-lost-$s"
    done
  done
  for s in ${SUBJECTS:-a b c}; do
    R[drain-$s]=$(median < "$WORK/drain-rate-$s")
    R[drain-runs-$s]=$(paste -sd, "$WORK/drain-rate-$s" | sed 's/,/, /g')
    R[drain-lost-$s]=$(sort -u "$WORK/drain-lost-$s" | paste -sd/)
  done
fi

# --- 1c. Sparkplug B end to end, beside the JSON path (issue 13) ------------------------------
# takt-sim publishes Config/plant-dialects.yaml (the demo site, every station also a Sparkplug
# edge node or device) for DIALECT_HOURS simulated hours at full speed, QoS 1, once as Takt JSON
# and once as Sparkplug B, into taktd; rate = the truth's published messages / (the
# simulator's start → the store's site counters hold them all). The publisher is the simulator
# here, so both dialects share its pace: the figure says whether decoding Sparkplug slows taktd
# below it.
DIALECT_HOURS=${DIALECT_HOURS:-120}
if want dialects; then
  for run in $(seq "$RUNS"); do
    for dialect in takt sparkplug; do
      start_broker
      data="$WORK/taktd-dialect-$dialect-$run"
      start_taktd "$data" "dialect$dialect$run" "$WORK/dialect-$dialect-$run.log" Config/plant-dialects.yaml
      start_wall=$(now)
      "$BIN/takt-sim" --plant Config/plant-dialects.yaml --broker "mqtt://127.0.0.1:$PORT" --dialect "$dialect" --speed max \
        --duration "${DIALECT_HOURS}h" --seed 5 --truth "$WORK/dialect-$dialect-$run.json" > /dev/null 2> "$WORK/dialect-$dialect-$run.sim"
      sim_wall=$(now)
      published=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["messages"]["published"])' "$WORK/dialect-$dialect-$run.json")
      wait_committed "$data" "$published"
      counted=$(counted "$data/takt.sqlite")
      rate=$(awk -v n="$published" -v a="$start_wall" -v b="$DONE_WALL" 'BEGIN {printf "%.0f", n / (b - a)}')
      sim_rate=$(awk -v n="$published" -v a="$start_wall" -v b="$sim_wall" 'BEGIN {printf "%.0f", n / (b - a)}')
      log "dialect $dialect run $run: $published messages, $rate msg/s committed (the simulator published at $sim_rate msg/s; counted $counted)"
      echo "$rate" >> "$WORK/dialect-$dialect-rate"
      echo "$sim_rate" >> "$WORK/dialect-$dialect-sim"
      echo "$(( published - counted ))" >> "$WORK/dialect-$dialect-lost"
      R[dialect-$dialect-n]=$published
      stop_pid $TAKTD_PID
      rm -rf "$data"
      stop_pid $BROKER_PID
      rm -rf "$WORK/broker-$PORT"
    done
  done
  for dialect in takt sparkplug; do
    R[dialect-$dialect]=$(median < "$WORK/dialect-$dialect-rate")
    R[dialect-$dialect-sim]=$(median < "$WORK/dialect-$dialect-sim")
    R[dialect-$dialect-runs]=$(paste -sd, "$WORK/dialect-$dialect-rate" | sed 's/,/, /g')
    R[dialect-$dialect-lost]=$(sort -u "$WORK/dialect-$dialect-lost" | paste -sd/)
  done
fi

# --- 2. in process -------------------------------------------------------------------------
if want inproc; then
  log "in process: generating 2 days of Bishan…"
  "$BIN/takt-sim" --plant "$PLANT" --speed max --duration 2d --seed 7 --out "$WORK/inproc.tsv" 2>/dev/null
  taskset -c 0 "$BIN/takt-bench" ingest "$PLANT" "$WORK/inproc.tsv" "$(( RUNS > 5 ? RUNS : 5 ))" > "$WORK/ingest.out"
  R[ingest]=$(kv ingest_events_per_s "$WORK/ingest.out")
  R[ingest-all]=$(kv ingest_events_per_s_all "$WORK/ingest.out" | sed 's/,/, /g')
  R[ingest-drain]=$(kv ingest_drain_events_per_s "$WORK/ingest.out")
  R[ingest-events]=$(kv events "$WORK/ingest.out")
  log "in process: Sparkplug B, the same 2 days of Bishan as edge nodes…"
  taskset -c 0 "$BIN/takt-bench" sparkplug "$PLANT" 2 "$(( RUNS > 5 ? RUNS : 5 ))" > "$WORK/sparkplug.out"
  R[sp]=$(kv sparkplug_events_per_s "$WORK/sparkplug.out")
  R[sp-all]=$(kv sparkplug_events_per_s_all "$WORK/sparkplug.out" | sed 's/,/, /g')
  R[sp-drain]=$(kv sparkplug_drain_events_per_s "$WORK/sparkplug.out")
  R[sp-events]=$(kv sparkplug_events "$WORK/sparkplug.out")
  R[sp-bytes]=$(kv sparkplug_payload_bytes_mean "$WORK/sparkplug.out")
  for run in $(seq "$RUNS"); do
    taskset -c 0 "$BIN/takt-bench" commit "$PLANT" "$WORK/inproc.tsv" "$WORK/commit.sqlite" 10000 > "$WORK/commit-$run.out"
    kv commit_ms_median "$WORK/commit-$run.out" >> "$WORK/commit-ms"
    kv commit_cpu_ms_median "$WORK/commit-$run.out" >> "$WORK/commit-cpu-ms"
    kv drain_ms_median "$WORK/commit-$run.out" >> "$WORK/drain-ms"
  done
  R[commit-ms]=$(median < "$WORK/commit-ms")
  R[commit-runs]=$(paste -sd, "$WORK/commit-ms" | sed 's/,/, /g')
  R[commit-cpu-ms]=$(median < "$WORK/commit-cpu-ms")
  R[drain-ms]=$(median < "$WORK/drain-ms")
  R[commit-rows]=$(kv row_updates_per_commit "$WORK/commit-1.out")
  R[commit-snap]=$(kv snapshot_bytes_per_commit "$WORK/commit-1.out")
  # What (c) spends per message without the broker: json.loads + the same sums, in process.
  head -n 300000 "$WORK/inproc.tsv" > "$WORK/py.tsv"
  for run in $(seq "$RUNS"); do
    python3 - "$WORK/py.tsv" >> "$WORK/py-rate" <<'PY'
import json, sys, time
from collections import defaultdict
lines = [l.rstrip(b"\n").split(b"\t", 1) for l in open(sys.argv[1], "rb")]
sums = defaultdict(lambda: [0, 0, 0.0])
t0 = time.perf_counter()
for topic, payload in lines:
    parts = topic.decode().split("/")
    p = json.loads(payload)
    if parts[5] == "unit":
        s = sums[(parts[2], parts[3], p["ts"] // 60000 * 60000)]
        s[0] += p.get("good", 1); s[1] += p.get("scrap", 0); s[2] += p.get("energy_kwh", 0.0)
print(int(len(lines) / (time.perf_counter() - t0)))
PY
  done
  R[py-inproc]=$(median < "$WORK/py-rate")
  rm -f "$WORK/inproc.tsv" "$WORK/py.tsv" "$WORK"/commit.sqlite*
fi

# --- 2b. peak RSS, 1,000 lines × 4 stations ------------------------------------------------
if want rss; then
  log "peak RSS: 1,000 lines × 4 stations…"
  "$BIN/takt-bench" gen-plant 1000 4 big "$WORK/plant-big.yaml"
  "$BIN/takt-bench" gen-rss "$WORK/plant-big.yaml" "$WORK/rss.tsv" > "$WORK/rss-gen.out"
  RSS_N=$(kv messages "$WORK/rss-gen.out")
  for run in $(seq "$RUNS"); do
    start_broker
    data="$WORK/rss-$run"
    HP=$(free_port)
    start_taktd "$data" "rss$run" "$WORK/rss-$run.log" "$WORK/plant-big.yaml" "127.0.0.1:$HP"
    pid=$TAKTD_PID
    t0=$(now)
    "$WORK/replay_pub" "$PORT" "$WORK/rss.tsv" 1 1000 > "$WORK/rss-pub-$run.out"
    for _ in $(seq 6000); do [ "$(counted "$data/takt.sqlite")" -ge "$RSS_N" ] && break; sleep 0.05; done  # ≤ 5 min
    t1=$(now)
    awk '/VmHWM/ {print $2}' /proc/$pid/status >> "$WORK/rss-kb"
    # The ring buffers' share: their slots' bytes and rows held (issue 14), from /metrics.
    curl -s "http://127.0.0.1:$HP/metrics" | awk '/^takt_live_bytes/ {b+=$2} /^takt_live_rows/ {r+=$2} END {printf "%.0f %.0f\n", b, r}' >> "$WORK/rss-live"
    sqlite3 "$data/takt.sqlite" "SELECT SUM(accepted) FROM site_counters" >> "$WORK/rss-accepted"
    awk -v a="$t0" -v b="$t1" -v n="$RSS_N" 'BEGIN {printf "%.0f\n", n / (b - a)}' >> "$WORK/rss-rate"
    stop_pid $pid
    stop_pid $BROKER_PID
    rm -rf "$data" "$WORK/broker-$PORT"
  done
  R[rss-mb]=$(awk '{print $1/1024}' "$WORK/rss-kb" | median)
  R[rss-runs]=$(awk '{printf "%.0f\n", $1/1024}' "$WORK/rss-kb" | paste -sd, | sed 's/,/, /g')
  R[rss-n]=$RSS_N
  R[rss-accepted]=$(sort -u "$WORK/rss-accepted" | paste -sd/)
  R[rss-rate]=$(median < "$WORK/rss-rate")
  R[rss-live-mb]=$(awk '{print $1/1048576}' "$WORK/rss-live" | median)
  R[rss-live-rows]=$(awk '{print $2}' "$WORK/rss-live" | median)
  rm -f "$WORK/rss.tsv"
fi

# --- 2c. the live API under ingest (issue 14) -----------------------------------------------
# The e2e stream into taktd at QoS 1, once alone and once while wrk asks /api/v1/windows for
# the last 3 hours of 1m rows of one line (the stream's last 3 hours: the answer grows to 180
# rows as the stream gets there): ingest rate of both, the ratio, wrk's requests/s and p99.
# Twice with wrk: unpaced (wrk asks as fast as answers come: on 2 cores it takes whatever CPU
# the broker and taktd leave, so the ingest must lose) and paced at LIVE_RPS (1,000) requests/s
# in all (a Lua delay per connection: far above what dashboards ask), where the ingest should not.
LIVE_RPS=${LIVE_RPS:-1000}
if want live; then
  command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null 2>&1 || { log "wrk is not installed"; exit 1; }
  LAST_TS=$(sed -n 's/.*"ts":\([0-9]*\).*/\1/p' "$STREAM" | sort -n | tail -1)
  TO=$(( (LAST_TS / 60000 + 1) * 60000 )); FROM=$(( TO - 3 * 3600000 ))
  LINE=$(sed -n 's|^takt/v1/bishan/\([^/]*\)/.*|\1|p;T;q' "$STREAM")  # the first line named (no head: pipefail)
  for run in $(seq "$RUNS"); do
    for mode in quiet wrk paced; do
      start_broker
      data="$WORK/live-$mode-$run"
      HP=$(free_port)
      start_taktd "$data" "live$mode$run" "$WORK/live-$mode-$run.log" "$PLANT" "127.0.0.1:$HP"
      if [ "$mode" != quiet ]; then
        secs=$(awk -v n="$N" -v r="${R[live-quiet-last]}" 'BEGIN {printf "%d", n / r + 1}')
        pace=()
        if [ "$mode" = paced ]; then
          # 4 connections, each waiting 4000/LIVE_RPS ms before a request (plus the answer's time).
          echo "function delay() return $(awk -v r="$LIVE_RPS" 'BEGIN {printf "%.3f", 4000 / r}') end" > "$WORK/pace.lua"
          pace=(-s "$WORK/pace.lua")
        fi
        wrk -t1 -c4 -d"${secs}s" --latency "${pace[@]}" "http://127.0.0.1:$HP/api/v1/windows?site=bishan&line=$LINE&window=1m&from=$FROM&to=$TO" > "$WORK/$mode-$run.out" 2>&1 &
        WRK_PID=$!
      fi
      "$WORK/replay_pub" "$PORT" "$STREAM" 1 1000 > "$WORK/live-$mode-$run.pub"
      start_wall=$(field start_wall "$WORK/live-$mode-$run.pub")
      wait_committed "$data"
      rate=$(awk -v n="$N" -v a="$start_wall" -v b="$DONE_WALL" 'BEGIN {printf "%.0f", n / (b - a)}')
      echo "$rate" >> "$WORK/live-$mode-rate"
      [ "$mode" = quiet ] && R[live-quiet-last]=$rate
      if [ "$mode" != quiet ]; then
        wait $WRK_PID || true
        awk '/Requests\/sec/ {print $2}' "$WORK/$mode-$run.out" >> "$WORK/$mode-rps"
        awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/, "", v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v*=1000}; print v}' "$WORK/$mode-$run.out" >> "$WORK/$mode-p99"
        curl -s "http://127.0.0.1:$HP/api/v1/windows?site=bishan&line=$LINE&window=1m&from=$FROM&to=$TO" | grep -o '"start"' | wc -l >> "$WORK/wrk-rows"
      fi
      stop_pid $TAKTD_PID
      rm -rf "$data"
      stop_pid $BROKER_PID
      rm -rf "$WORK/broker-$PORT"
    done
  done
  R[live-quiet]=$(median < "$WORK/live-quiet-rate")
  for mode in wrk paced; do
    R[live-$mode]=$(median < "$WORK/live-$mode-rate")
    R[live-$mode-rps]=$(median < "$WORK/$mode-rps")
    R[live-$mode-p99]=$(median < "$WORK/$mode-p99")
  done
  R[live-rows]=$(median < "$WORK/wrk-rows")
  R[live-runs]="alone $(paste -sd, "$WORK/live-quiet-rate"); with wrk unpaced $(paste -sd, "$WORK/live-wrk-rate"); paced $(paste -sd, "$WORK/live-paced-rate")"
fi

# --- 3. takt plan over a year --------------------------------------------------------------
if want plan; then
  log "planning: filling a year of 1h/1d rows…"
  "$BIN/takt-bench" fill-year "$PLANT" "$WORK/year.sqlite" 2026 > "$WORK/fill.out"
  R[plan-rows]=$(kv rows "$WORK/fill.out")
  PLAN_CMD="$BIN/takt plan --store sqlite:$WORK/year.sqlite --plant $PLANT --site bishan --target-gwh 55 --format json"
  $PLAN_CMD > "$WORK/plan.json"
  if command -v hyperfine >/dev/null; then
    hyperfine -N --warmup 1 --runs 10 --export-json "$WORK/plan-hf.json" "$PLAN_CMD" > /dev/null 2>&1
    R[plan-ms]=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.0f" % (r["median"]*1000))' "$WORK/plan-hf.json")
    R[plan-how]="hyperfine, 10 runs after 1 warm-up, median"
  else
    for _ in $(seq 7); do a=$(now); $PLAN_CMD > /dev/null; b=$(now); echo "$a $b" | awk '{printf "%.0f\n", ($2-$1)*1000}'; done > "$WORK/plan-ms"
    R[plan-ms]=$(median < "$WORK/plan-ms")
    R[plan-how]="7 runs, median (hyperfine not available)"
  fi
  log "planning: the scenario Monte Carlo on one core…"
  PIN=""; command -v taskset >/dev/null && PIN="taskset -c 0"
  $PIN "$BIN/takt-bench" scenario "$PLANT" Config/scenario-bishan-phase3.yaml 10000 1095 "$RUNS" > "$WORK/scenario.out"
  for k in lines runs days s cpu_s levers_s levers_cpu_s; do R[scen-$k]=$(kv "scenario_$k" "$WORK/scenario.out"); done
  SCEN_CMD="$BIN/takt plan --store sqlite:$WORK/year.sqlite --plant $PLANT --site bishan --scenario Config/scenario-bishan-phase3.yaml --format json"
  for _ in $(seq "$RUNS"); do a=$(now); $PIN $SCEN_CMD > /dev/null; b=$(now); echo "$a $b" | awk '{printf "%.2f\n", ($2-$1)}'; done > "$WORK/scen-cli"
  R[scen-cli-s]=$(median < "$WORK/scen-cli")
fi

# --- 4. freshness ---------------------------------------------------------------------------
# One run: a fresh broker and taktd, fresh_bench at QOS and RATE for FRESH_SECONDS; its line of
# key value pairs goes to the run's .out file.
run_fresh() {  # QOS (0, 1, or sse: QoS 1, timed to the live stream's events) RATE RUN
  local out="$WORK/fresh-q$1-r$2-$3" data="$WORK/taktd-fresh"
  start_broker
  if [ "$1" = sse ]; then
    local hp
    hp=$(free_port)
    start_taktd "$data" "fresh$1$2$3" "$out.log" "$PLANT" "127.0.0.1:$hp"
    SSE_PORT=$hp "$WORK/fresh_bench" "$PORT" 1 "$2" "$FRESH_SECONDS" 60 > "$out.out" 2> "$out.err" || { log "fresh_bench failed"; cat "$out.err" >&2; }
  else
    start_taktd "$data" "fresh$1$2$3" "$out.log"
    "$WORK/fresh_bench" "$PORT" "$1" "$2" "$FRESH_SECONDS" 60 > "$out.out" 2> "$out.err" || { log "fresh_bench failed"; cat "$out.err" >&2; }
  fi
  stop_pid $TAKTD_PID
  rm -rf "$data"
  stop_pid $BROKER_PID
  rm -rf "$WORK/broker-$PORT"
}
if want fresh; then
  for qos in ${QOS:-1 0} sse; do
    rates=$FRESH_RATES
    [ "$qos" = sse ] && rates=$FRESH_SSE_RATES
    for rate in $rates; do
      for run in $(seq "$RUNS"); do
        run_fresh "$qos" "$rate" "$run"
        log "freshness QoS $qos, $rate msg/s, run $run: $(cat "$WORK/fresh-q$qos-r$rate-$run.out")"
        for k in p50_ms p99_ms max_ms missing publish_rate; do
          field "$k" "$WORK/fresh-q$qos-r$rate-$run.out" >> "$WORK/fresh-$k-$qos-$rate"
        done
      done
      for k in p50_ms p99_ms max_ms missing publish_rate; do
        R[fresh-$k-$qos-$rate]=$(median < "$WORK/fresh-$k-$qos-$rate")
        R[fresh-runs-$k-$qos-$rate]=$(paste -sd/ "$WORK/fresh-$k-$qos-$rate")
      done
    done
  done
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report --------------------------------------------------------------------------------
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (x == "" || y == "" || y == 0) print "–"; else printf "%.2f", x / y }'; }
verdict() {  # VALUE TARGET higher|lower
  awk -v v="$1" -v t="$2" -v d="$3" 'BEGIN {
    if (v == "" || v == "–") { print "not measured"; exit }
    if ((d == "higher" && v >= t) || (d == "lower" && v <= t)) printf "**met** (%.2f× the target)", (d == "higher" ? v / t : t / v)
    else if (d == "higher") printf "**missed** by %.0f %%", (1 - v / t) * 100
    else printf "**missed** by %.0f %%", (v / t - 1) * 100 }'
}
fmt() { [ -z "$1" ] && echo "–" || printf "%s" "${1%.*}" | sed -e :a -e 's/\(.*[0-9]\)\([0-9]\{3\}\)/\1,\2/;ta'; }

# Steps narrowed by SUBJECTS/QOS leave some end-to-end figures unmeasured: empty, written as "–"
# (under set -u an unset key stopped the script before it wrote the page).
for s in a b c; do for q in 1 0; do for k in rate lost rss runs; do
  [[ -v "R[$k-$s-$q]" ]] || R[$k-$s-$q]=""
done; done; done
section="$WORK/section.md"
{
  echo "<!-- bench:start — written by scripts/bench.sh (make bench); edit the script, not this section -->"
  echo "## make bench (issue 6)"
  echo
  echo "Generated by \`make bench\` ($DATE, commit $COMMIT). Machine: $(nproc) cores ($CPU), $MEM,"
  echo "Linux $(uname -r), $SWIFTV; $MOSQV; $PYV, paho-mqtt $PAHOV. The cores are shared with other"
  echo "engineers' builds and tests: load average $LOAD_START at the start, $LOAD_END at the end."
  echo "Each figure is the median of $RUNS runs (the runs are listed)."
  if want e2e; then
    echo
    echo "### 1. End to end: $(fmt "$N") contract messages through Mosquitto on loopback"
    echo
    echo "The stream is the first $(fmt "$N") messages of \`takt-sim --out\` (Bishan, 16 lines × 4 stations),"
    echo "published at full speed by \`Benchmarks/mosquitto-bare/replay_pub.c\` (libmosquitto, threaded"
    echo "loop, 1000 in flight, TCP_NODELAY). A fresh broker (\`Config/mosquitto.conf\`) per run. messages/s ="
    echo "N / (time from the publisher's first publish to: (a) the last message received by"
    echo "\`bare_sub.c\`, a libmosquitto subscriber that only counts; (b) the last event committed by"
    echo "\`taktd\`, journal and SQLite store on, read in \`site_counters\` every 10 ms by one Python process (a"
    echo "\`sqlite3\` shell every 20 ms before issue 16) — so (b) includes the commit after its last message; (c) the last"
    echo "message summed by \`Benchmarks/paho_sum.py\`, paho-mqtt + \`json.loads\` + dict sums per line"
    echo "and minute). \"lost\" = N − received (a, c) or N − accepted in the store (b)."
    echo
    echo "| QoS | (a) bare C, msg/s | (b) taktd, msg/s | (c) paho-mqtt, msg/s | b/a | b/c | lost a / b / c | taktd peak RSS |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    for qos in 1 0; do
      echo "| $qos | $(fmt "${R[rate-a-$qos]}") | **$(fmt "${R[rate-b-$qos]}")** | $(fmt "${R[rate-c-$qos]}") | **$(ratio "${R[rate-b-$qos]}" "${R[rate-a-$qos]}")** | **$(ratio "${R[rate-b-$qos]}" "${R[rate-c-$qos]}")** | ${R[lost-a-$qos]} / ${R[lost-b-$qos]} / ${R[lost-c-$qos]} | $(awk -v k="${R[rss-b-$qos]}" 'BEGIN {printf "%.0f MB", k/1024}') |"
    done
    echo
    echo "Runs (msg/s): QoS 1 a: ${R[runs-a-1]}; b: ${R[runs-b-1]}; c: ${R[runs-c-1]}."
    echo "QoS 0 a: ${R[runs-a-0]}; b: ${R[runs-b-0]}; c: ${R[runs-c-0]}."
    echo "\`taktd\`'s own CPU (user + system) per run of (b): QoS 1 ${R[cpu-runs-b-1]:-?} s; QoS 0 ${R[cpu-runs-b-0]:-?} s."
    for qos in 1 0; do
      R[ba-runs-$qos]=$(paste -d' ' "$WORK/rate-b-$qos" "$WORK/rate-a-$qos" 2>/dev/null | awk '{printf "%s%.2f", (NR > 1 ? ", " : ""), $1 / $2}')
      R[ba-median-$qos]=$(paste -d' ' "$WORK/rate-b-$qos" "$WORK/rate-a-$qos" 2>/dev/null | awk '{printf "%.4f\n", $1 / $2}' | median)
    done
    echo "b/a run by run (each run's (a) and (b) back to back): QoS 1 ${R[ba-runs-1]:-?} (median $(printf "%.2f" "${R[ba-median-1]:-0}")); QoS 0 ${R[ba-runs-0]:-?} (median $(printf "%.2f" "${R[ba-median-0]:-0}"))."
    echo
    echo "Issue 16's targets, b/a ≥ 1.0 at QoS 1 and ≥ 0.95 at QoS 0 — as the ratio of the medians: QoS 1 $(verdict "$(ratio "${R[rate-b-1]}" "${R[rate-a-1]}")" 1.0 higher), QoS 0 $(verdict "$(ratio "${R[rate-b-0]}" "${R[rate-a-0]}")" 0.95 higher);"
    echo "as the median of the runs' own ratios: QoS 1 $(verdict "${R[ba-median-1]:-}" 1.0 higher), QoS 0 $(verdict "${R[ba-median-0]:-}" 0.95 higher)."
    echo "Targets: b/a ≥ 0.9 — QoS 1 $(verdict "$(ratio "${R[rate-b-1]}" "${R[rate-a-1]}")" 0.9 higher), QoS 0 $(verdict "$(ratio "${R[rate-b-0]}" "${R[rate-a-0]}")" 0.9 higher);"
    echo "b/c ≥ 3 — QoS 1 $(verdict "$(ratio "${R[rate-b-1]}" "${R[rate-c-1]}")" 3 higher), QoS 0 $(verdict "$(ratio "${R[rate-b-0]}" "${R[rate-c-0]}")" 3 higher);"
    echo "nothing lost — $( [ "${R[lost-b-1]}" = 0 ] && [ "${R[lost-b-0]}" = 0 ] && echo "**met** by taktd (every message accepted and committed, both QoS)" || echo "**missed**: taktd lost ${R[lost-b-1]} (QoS 1) / ${R[lost-b-0]} (QoS 0)")."
  fi
  if want drain; then
    echo
    echo "### 1b. Backlog drain: $(fmt "$N") messages queued by the broker, then consumed"
    echo
    echo "The same stream, published at QoS 1 while each subscriber's persistent session (fixed client"
    echo "id, clean session off) was away; then the subscriber starts and the broker sends it the queue"
    echo "(1000 in flight). Here the subscriber, not the publisher, sets the pace: what a daemon catching"
    echo "up after an outage, or a plant backfilling, sees. messages/s = N / (time from the subscriber's"
    echo "start to its last message received (a, c) or event committed (b)); startup included."
    echo
    echo "| (a) bare C, msg/s | (b) taktd, msg/s | (c) paho-mqtt, msg/s | b/a | b/c | lost a / b / c |"
    echo "| --- | --- | --- | --- | --- | --- |"
    echo "| $(fmt "${R[drain-a]}") | **$(fmt "${R[drain-b]}")** | $(fmt "${R[drain-c]}") | **$(ratio "${R[drain-b]}" "${R[drain-a]}")** | **$(ratio "${R[drain-b]}" "${R[drain-c]}")** | ${R[drain-lost-a]} / ${R[drain-lost-b]} / ${R[drain-lost-c]} |"
    echo
    echo "Runs (msg/s): a: ${R[drain-runs-a]}; b: ${R[drain-runs-b]}; c: ${R[drain-runs-c]}."
  fi
  if want dialects; then
    echo
    echo "### 1c. Sparkplug B end to end, beside the JSON path"
    echo
    echo "\`takt-sim --dialect takt|sparkplug --speed max\` publishes \`Config/plant-dialects.yaml\` (the demo site,"
    echo "every station also a Sparkplug edge node or device) for $DIALECT_HOURS simulated hours at QoS 1 into \`taktd\`."
    echo "messages/s = the truth's published messages / (the simulator's start → all of them counted in the store)."
    echo "The simulator is the publisher for both, so it sets the pace; its own publishing rate is given beside."
    echo
    echo "| dialect | messages | taktd, msg/s committed | the simulator published, msg/s | lost | runs |"
    echo "| --- | --- | --- | --- | --- | --- |"
    for dialect in takt sparkplug; do
      echo "| $dialect | $(fmt "${R[dialect-$dialect-n]}") | **$(fmt "${R[dialect-$dialect]}")** | $(fmt "${R[dialect-$dialect-sim]}") | ${R[dialect-$dialect-lost]} | ${R[dialect-$dialect-runs]} |"
    done
    echo
    echo "Sparkplug B / JSON: **$(ratio "${R[dialect-sparkplug]}" "${R[dialect-takt]}")×** end to end."
  fi
  if want inproc || want rss; then
    echo
    echo "### 2. In process (\`takt-bench\`, release, no broker)"
    echo
    echo "| what | figure | target | verdict |"
    echo "| --- | --- | --- | --- |"
    if want inproc; then
      echo "| decode + validate + dedup + windows of raw payload bytes, one core (\`taskset -c 0\`), 2 days of Bishan ($(fmt "${R[ingest-events]}") messages) | **$(fmt "${R[ingest]}") events/s** (runs: ${R[ingest-all]}) | ≥ 1,000,000 | $(verdict "${R[ingest]}" 1000000 higher) |"
      echo "| the same including \`drainCommit\` every 10,000 events (building the commit batches) | $(fmt "${R[ingest-drain]}") events/s | | |"
      echo "| Sparkplug B NDATA/DDATA: protobuf decode + the node's seq/alias/counter state machine + the same windows, one core, the same 2 days of Bishan as edge nodes (a node per line, a device per station; $(fmt "${R[sp-events]}") messages of $(fmt "${R[sp-bytes]}") bytes on average, encoded by \`takt-sim --dialect sparkplug\`'s publisher; a clock record every 1,000, as the intake journals them) | **$(fmt "${R[sp]}") events/s** (runs: ${R[sp-all]}) — $(ratio "${R[sp]}" "${R[ingest]}")× the JSON figure | | |"
      echo "| Sparkplug B including \`drainCommit\` every 10,000 events | $(fmt "${R[sp-drain]}") events/s | | |"
      echo "| for comparison: Python \`json.loads\` + the dict sums of (c), in process, no broker (300,000 of the same messages) | $(fmt "${R[py-inproc]}") events/s — takt's pipeline is **$(ratio "${R[ingest]}" "${R[py-inproc]}")×** | | |"
      echo "| \`SQLiteRollupStore.commit\` of the batch the aggregator drains every 10,000 events (median over the 2 days; ${R[commit-rows]} row updates and ${R[commit-snap]} snapshot bytes per commit) | **${R[commit-ms]} ms per 10,000 events** (runs: ${R[commit-runs]}), of which ${R[commit-cpu-ms]} ms CPU; \`drainCommit\` ${R[drain-ms]} ms | | |"
    fi
    if want rss; then
      echo "| peak RSS of \`taktd\` (VmHWM), 1,000 lines × 4 stations; $(fmt "${R[rss-n]}") messages at QoS 1: per station a state a day for 62 days, a state an hour for 72 h, a unit a minute (+ a state every 10 min) for 180 min; accepted ${R[rss-accepted]}; $(fmt "${R[rss-rate]}") msg/s | **$(printf "%.0f" "${R[rss-mb]}") MB** (runs: ${R[rss-runs]}) | ≤ 200 MB | $(verdict "${R[rss-mb]}" 200 lower) |"
      echo "| of which the ring buffers (\`live_1m: 180, live_1h: 72, live_1d: 62\`, \`live_stations: ${LIVE_STATIONS:-output}\`; \`takt_live_bytes\`) | $(printf "%.1f" "${R[rss-live-mb]}") MB for $(fmt "${R[rss-live-rows]}") rows | | |"
    fi
  fi
  if want live; then
    echo
    echo "### 2c. The live API while taktd ingests (issue 14)"
    echo
    echo "The end-to-end stream (N = $(fmt "$N"), QoS 1) into taktd with \`--http\`, alone and while \`wrk -t1 -c4\` asks"
    echo "\`/api/v1/windows\` for the last 3 hours of one line's 1m rows (the stream's last 3 hours; ${R[live-rows]} rows at the end)."
    echo
    echo "| wrk | ingest, msg/s | ratio to ingest alone | requests/s | p99 |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| none (ingest alone) | $(fmt "${R[live-quiet]}") | | | |"
    echo "| unpaced (as fast as answers come) | $(fmt "${R[live-wrk]}") | **$(ratio "${R[live-wrk]}" "${R[live-quiet]}")** | $(fmt "${R[live-wrk-rps]}") | ${R[live-wrk-p99]} ms |"
    echo "| paced (at most $(fmt "$LIVE_RPS") requests/s) | $(fmt "${R[live-paced]}") | **$(ratio "${R[live-paced]}" "${R[live-quiet]}")** | $(fmt "${R[live-paced-rps]}") | ${R[live-paced-p99]} ms |"
    echo
    echo "Runs (msg/s): ${R[live-runs]}. Target: the ingest unchanged within 5 % — paced $(verdict "$(ratio "${R[live-paced]}" "${R[live-quiet]}")" 0.95 higher);"
    echo "unpaced, wrk is a closed loop on the same 2 cores: it takes whatever CPU the broker and taktd leave, so the ingest loses what the answers cost."
  fi
  if want plan; then
    echo
    echo "### 3. Planning"
    echo
    echo "\`takt plan --format json\` (7-day lookback, year to date) over a store holding one year (2026)"
    echo "of 1h and 1d rows of every station of the 16-line Bishan plant ($(fmt "${R[plan-rows]}") rows, filled by"
    echo "\`takt-bench fill-year\` through \`SQLiteRollupStore.commit\`): **${R[plan-ms]} ms** (${R[plan-how]})."
    echo "Target ≤ 1 s: $(verdict "${R[plan-ms]}" 1000 lower)."
    echo
    echo "Scenario Monte Carlo (\`takt-bench scenario\`, \`ScenarioPlanner.plan\` in process, pinned to one core"
    echo "with \`taskset -c 0\`): ${R[scen-runs]} runs × ${R[scen-days]} days × ${R[scen-lines]} lines (the Bishan plant and"
    echo "\`Config/scenario-bishan-phase3.yaml\`, 28 seeded history days a line), median of $RUNS:"
    echo "**${R[scen-s]} s** (CPU ${R[scen-cpu_s]} s) for the simulation, **${R[scen-levers_s]} s** (CPU ${R[scen-levers_cpu_s]} s)"
    echo "with the three levers (four simulations). Target ≤ 2 s: $(verdict "${R[scen-s]}" 2 lower); with the levers"
    echo "$(verdict "${R[scen-levers_s]}" 2 lower). \`takt plan --scenario\` end to end (10,000 runs and the levers,"
    echo "reading the year's store, one core): ${R[scen-cli-s]} s (median of $RUNS)."
  fi
  if want fresh; then
    echo
    echo "### 4. Freshness: a unit's publish → the metrics row that includes it (issue 16)"
    echo
    echo "\`Benchmarks/mosquitto-bare/fresh_bench.c\` publishes unit messages at a steady rate for"
    echo "$FRESH_SECONDS s, round-robin over the 64 stations of Bishan (ts = now), into a fresh broker and"
    echo "\`taktd\` (journal, SQLite); a subscriber in the same process (one clock) reads"
    echo "\`takt/v1/metrics/bishan/+/1m\`. Each output-station unit is the k-th of its line's minute; it is"
    echo "seen when a row of that window arrives with good + scrap ≥ k. Latency = arrival − the moment"
    echo "the unit was handed to libmosquitto. Median of $RUNS runs per cell (runs after the slash-separated"
    echo "lists); \"missing\" = output units no row covered 60 s after the last publish."
    echo
    echo "| QoS | rate, msg/s | reached, msg/s | p50 ms | p99 ms | max ms | missing | p99 runs |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    for qos in ${QOS:-1 0} sse; do
      rates=$FRESH_RATES
      [ "$qos" = sse ] && rates=$FRESH_SSE_RATES
      for rate in $rates; do
      echo "| $( [ "$qos" = sse ] && echo "1, timed to the live stream (\`/api/v1/live\` SSE)" || echo "$qos") | $(fmt "$rate") | $(fmt "${R[fresh-publish_rate-$qos-$rate]}") | ${R[fresh-p50_ms-$qos-$rate]} | **${R[fresh-p99_ms-$qos-$rate]}** | ${R[fresh-max_ms-$qos-$rate]} | ${R[fresh-missing-$qos-$rate]} | ${R[fresh-runs-p99_ms-$qos-$rate]} |"
    done; done
    echo
    echo "Targets: p99 ≤ 100 ms at 1,000 msg/s — QoS 1 $(verdict "${R[fresh-p99_ms-1-1000]:-}" 100 lower), QoS 0 $(verdict "${R[fresh-p99_ms-0-1000]:-}" 100 lower);"
    echo "p99 ≤ 300 ms at 10,000 msg/s — QoS 1 $(verdict "${R[fresh-p99_ms-1-10000]:-}" 300 lower), QoS 0 $(verdict "${R[fresh-p99_ms-0-10000]:-}" 300 lower)."
    echo "The live stream (SSE, the same units at QoS 1, read by fresh_bench over HTTP/1.0 from \`taktd --http\`): p99 ${R[fresh-p99_ms-sse-1000]:-?} ms at 1,000 msg/s, ${R[fresh-p99_ms-sse-10000]:-?} ms at 10,000."
  fi
  echo "<!-- bench:end -->"
} > "$section"

if [ "$OUT" = /dev/null ]; then
  :
elif [ -f "$OUT" ] && grep -q '<!-- bench:start' "$OUT"; then
  python3 - "$OUT" "$section" <<'PY'
import re, sys
page, section = open(sys.argv[1]).read(), open(sys.argv[2]).read()
page = re.sub(r"<!-- bench:start.*?<!-- bench:end -->\n?", lambda m: section, page, flags=re.S)
open(sys.argv[1], "w").write(page)
PY
else
  { [ -f "$OUT" ] && cat "$OUT" && echo; cat "$section"; } > "$WORK/page.md"
  mv "$WORK/page.md" "$OUT"
fi
log "wrote $OUT"
cat "$section"
