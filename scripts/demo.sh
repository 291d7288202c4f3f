#!/usr/bin/env bash
# make demo: the whole product in one command, on this machine, with nothing left running.
#   1. install what is missing, build release binaries
#   2. start Mosquitto on a free loopback port with Config/mosquitto.conf
#   3. start taktd on the embedded SQLite store
#   4. simulate 14 days of the Bishan site (16 blade-cell lines) ending now, in 2–4 minutes
#   5. stop the daemon cleanly, print the capacity plan against 55 GWh, write the HTML report
# Everything it starts is stopped on exit, Ctrl-C included. Output goes to ./demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."

# DIALECT=sparkplug|umh|mixed: the simulator publishes as Sparkplug B edge nodes, UMH ia/
# messages or both beside JSON (takt-sim --dialect), on the demo site whose plant file binds
# every station to both (Config/plant-dialects.yaml).
DIALECT=${DIALECT:-takt}
if [ "$DIALECT" != takt ]; then
  PLANT=${PLANT:-Config/plant-dialects.yaml}
  SITE=${SITE:-demo}
  TARGET_GWH=${TARGET_GWH:-4}
  DAYS=${DAYS:-7}
fi
PLANT=${PLANT:-Config/plant-bishan.yaml}
SITE=${SITE:-bishan}
DAYS=${DAYS:-14}
WALL_SECONDS=${WALL_SECONDS:-150}     # target wall time of the simulation
TARGET_GWH=${TARGET_GWH:-55}
OUT=${OUT:-demo-out}
BIN=.build/release

TAKT_NO_CHROMIUM=1 scripts/install-deps.sh
echo "demo: building release binaries (the first build takes a few minutes)…" >&2
swift build -c release 2>&1 | grep -E "error|warning: |Compiling|Build complete" | grep -vE "^\[|Compiling" || true
[ -x "$BIN/taktd" ] && [ -x "$BIN/takt-sim" ] && [ -x "$BIN/takt" ] || { echo "demo: build failed" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT/mosquitto" "$OUT/data"
RUN_DIR=$(cd "$OUT" && pwd)
PIDS=()
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  local alive=0
  for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
  if [ "$alive" -gt 0 ]; then
    echo "demo: $alive processes it started are still running" >&2
    [ "$code" -eq 0 ] && code=1
  else
    echo "demo: stopped everything it started (${#PIDS[@]} processes)" >&2
  fi
  exit $code
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, stopping everything" >&2; exit 130' INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BROKER="mqtt://127.0.0.1:$PORT"
{
  cat Config/mosquitto.conf
  echo "listener $PORT 127.0.0.1"
  echo "persistence_location $RUN_DIR/mosquitto/"
  [ "$(id -u)" -eq 0 ] && echo "user root"
} > "$OUT/mosquitto/mosquitto.conf"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
"$MOSQUITTO" -c "$OUT/mosquitto/mosquitto.conf" > "$OUT/mosquitto/mosquitto.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
echo "demo: Mosquitto on $BROKER" >&2

"$BIN/taktd" --broker "$BROKER" --plant "$PLANT" --data-dir "$OUT/data" --instance demo > "$OUT/taktd.log" 2>&1 &
TAKTD=$!
PIDS+=($TAKTD)
for _ in $(seq 100); do
  mosquitto_sub -h 127.0.0.1 -p "$PORT" -t takt/v1/status/demo -C 1 -W 1 2>/dev/null | grep -q '"online":true' && break
  kill -0 $TAKTD 2>/dev/null || { echo "demo: taktd did not start:" >&2; cat "$OUT/taktd.log" >&2; exit 1; }
done
echo "demo: taktd online (store: sqlite:$OUT/data/takt.sqlite)" >&2

# QoS 0 for the demo's speed: 14 days of Bishan are ~12 million messages, which QoS 1 moves at
# ~25,000/s on a 2-core machine (8 minutes) and QoS 0 at ~85,000/s. The daemon keeps up either
# way; the exactly-once guarantees (QoS 1, kill -9, broker restarts) are what the tests prove.
SPEED=$(( DAYS * 86400 / WALL_SECONDS ))
echo "demo: simulating $DAYS days of $PLANT ($DIALECT) ending now at ${SPEED}× (about $WALL_SECONDS s)…" >&2
"$BIN/takt-sim" --plant "$PLANT" --broker "$BROKER" --duration "${DAYS}d" --speed "$SPEED" --seed 2026 \
  --qos "${QOS:-0}" --dialect "$DIALECT" --truth "$OUT/truth.json"

# Wait until the daemon has counted everything the simulator sent (the broker may still be
# delivering), then stop it cleanly.
EXPECTED=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["messages"]["counted"])' "$OUT/truth.json")
echo "demo: waiting for taktd to count all $EXPECTED messages…" >&2
for _ in $(seq 600); do
  COUNTED=$(sqlite3 "$OUT/data/takt.sqlite" "SELECT COALESCE(SUM(accepted),0) FROM site_counters" 2>/dev/null || echo 0)
  [ "${COUNTED:-0}" -ge "$EXPECTED" ] && break
  sleep 0.5
done
if [ "${COUNTED:-0}" -lt "$EXPECTED" ]; then
  echo "demo: warning: taktd counted $COUNTED of $EXPECTED messages (see $OUT/taktd.log)" >&2
else
  echo "demo: taktd counted all $COUNTED messages" >&2
fi
kill -TERM $TAKTD
wait $TAKTD || { echo "demo: taktd did not stop cleanly" >&2; exit 1; }
echo "demo: taktd stopped cleanly" >&2

echo
"$BIN/takt" plan --store "sqlite:$OUT/data/takt.sqlite" --plant "$PLANT" --site "$SITE" --target-gwh "$TARGET_GWH"
if "$BIN/takt" report --help > /dev/null 2>&1; then
  "$BIN/takt" report --store "sqlite:$OUT/data/takt.sqlite" --plant "$PLANT" --site "$SITE" --out "$OUT/report.html"
  echo "demo: report written to $OUT/report.html" >&2
fi
