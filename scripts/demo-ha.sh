#!/usr/bin/env bash
# make demo-ha: three taktd sharing one PostgreSQL store and the Bishan site's 16 lines (leases,
# docs/deploy.md), one of them killed with SIGKILL half-way through the run and started again;
# at the end every message is counted once and the capacity plan is printed from PostgreSQL.
#   1. install what is missing (mosquitto, postgresql, …), build release binaries
#   2. start Mosquitto and a PostgreSQL cluster of its own on free loopback ports
#   3. start taktd a, b, c on the store; wait until the 16 lines are spread 6/5/5
#   4. simulate DAYS (2) days of Bishan at QoS 1; kill -9 taktd b half-way, start it again
#   5. wait until the store counted what the simulator sent, stop the daemons, print the plan
# Everything it starts is stopped on exit, Ctrl-C included. Output goes to ./demo-ha-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

PLANT=${PLANT:-Config/plant-bishan.yaml}
SITE=${SITE:-bishan}
DAYS=${DAYS:-2}
WALL_SECONDS=${WALL_SECONDS:-60}
TARGET_GWH=${TARGET_GWH:-55}
OUT=${OUT:-demo-ha-out}
BIN=${BIN:-}  # a folder of already built binaries (skips the release build)

TAKT_NO_CHROMIUM=1 scripts/install-deps.sh
if [ -z "$BIN" ]; then
  BIN=.build/release
  echo "demo-ha: building release binaries (the first build takes a few minutes)…" >&2
  swift build -c release 2>&1 | grep -E "error|Build complete" | grep -vE "^\[" || true
fi
[ -x "$BIN/taktd" ] && [ -x "$BIN/takt-sim" ] && [ -x "$BIN/takt" ] || { echo "demo-ha: build failed" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT/mosquitto" "$OUT/pg"
RUN_DIR=$(cd "$OUT" && pwd)
declare -A DAEMON
PIDS=()
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  for pid in "${DAEMON[@]}" "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${DAEMON[@]}" "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  stop_postgres "$RUN_DIR/pg"
  echo "demo-ha: stopped everything it started" >&2
  exit $code
}
trap cleanup EXIT
trap 'echo; echo "demo-ha: interrupted, stopping everything" >&2; exit 130' INT TERM
PORT=$(free_port)
BROKER="mqtt://127.0.0.1:$PORT"
write_mosquitto_conf "$RUN_DIR/mosquitto" "$PORT"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
"$MOSQUITTO" -c "$OUT/mosquitto/mosquitto.conf" > "$OUT/mosquitto/mosquitto.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT" || { echo "demo-ha: Mosquitto did not start" >&2; exit 1; }

PG_PORT=$(free_port)
start_postgres "$RUN_DIR/pg" "$PG_PORT"
STORE="postgres://takt@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
echo "demo-ha: Mosquitto on $BROKER, PostgreSQL on 127.0.0.1:$PG_PORT" >&2
psql_() { psql -h 127.0.0.1 -p "$PG_PORT" -U takt -d postgres -At -c "$1" 2>/dev/null; }

start_daemon() {  # NAME
  printf 'lease_ttl: 5s\n' > "$OUT/taktd-$1.yaml"
  "$BIN/taktd" --config "$OUT/taktd-$1.yaml" --broker "$BROKER" --plant "$PLANT" --store "$STORE" \
    --data-dir "$OUT/data-$1" --instance "$1" >> "$OUT/taktd-$1.log" 2>&1 &
  DAEMON[$1]=$!
}
shares() { psql_ "SELECT count(*) FROM line_lease WHERE expires_at > clock_timestamp() GROUP BY owner ORDER BY 1" | tr '\n' ' '; }
for name in a b c; do start_daemon $name; done
for _ in $(seq 300); do [ "$(shares)" = "5 5 6 " ] && break; sleep 0.2; done
echo "demo-ha: three daemons hold the 16 lines: $(shares)" >&2
sleep 2  # the last generation subscribing its line sessions

SPEED=$(( DAYS * 86400 / WALL_SECONDS ))
echo "demo-ha: simulating $DAYS days of $PLANT at ${SPEED}× (about $WALL_SECONDS s); taktd b is killed half-way…" >&2
"$BIN/takt-sim" --plant "$PLANT" --broker "$BROKER" --duration "${DAYS}d" --speed "$SPEED" --seed 2026 \
  --qos 1 --truth "$OUT/truth.json" > "$OUT/sim.log" 2>&1 &
SIM=$!
PIDS+=($SIM)
sleep $(( WALL_SECONDS / 2 ))
kill -KILL "${DAEMON[b]}"
echo "demo-ha: killed taktd b (SIGKILL); its lines: $(psql_ "SELECT string_agg(line, ' ') FROM line_lease WHERE owner LIKE 'b-%' AND expires_at > clock_timestamp()")" >&2
for _ in $(seq 300); do
  [ -z "$(psql_ "SELECT 1 FROM line_lease WHERE owner LIKE 'b-%' AND expires_at > clock_timestamp() LIMIT 1")" ] && [ "$(shares)" = "8 8 " ] && break
  sleep 0.2
done
echo "demo-ha: taken over by a and c: $(shares)" >&2
start_daemon b
echo "demo-ha: taktd b started again" >&2
wait $SIM

EXPECTED=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["messages"]["counted"])' "$OUT/truth.json")
echo "demo-ha: waiting for the store to count all $EXPECTED messages…" >&2
for _ in $(seq 600); do
  COUNTED=$(psql_ "SELECT COALESCE(SUM(accepted),0) FROM site_counters")
  [ "${COUNTED:-0}" -ge "$EXPECTED" ] && break
  sleep 0.5
done
echo "demo-ha: the store counted ${COUNTED:-0} of $EXPECTED messages, each once; lines now: $(shares)" >&2
for name in a b c; do kill -TERM "${DAEMON[$name]}"; done
for name in a b c; do wait "${DAEMON[$name]}" || { echo "demo-ha: taktd $name did not stop cleanly" >&2; exit 1; }; done
echo "demo-ha: the three daemons stopped cleanly; lease log: $OUT/taktd-*.log" >&2
[ "${COUNTED:-0}" -eq "$EXPECTED" ] || { echo "demo-ha: counted $COUNTED, expected $EXPECTED" >&2; exit 1; }

echo
"$BIN/takt" plan --store "$STORE" --plant "$PLANT" --site "$SITE" --target-gwh "$TARGET_GWH"
