#!/usr/bin/env bash
# Installs the system packages Takt needs to build, test and run, when any is missing.
# Debian/Ubuntu (apt). Safe to run again: it does nothing when everything is there.
set -euo pipefail

# nats-server: the clustered-broker test runs three nodes of its own. postgresql: the PostgreSQL
# store's tests start their own server from its binaries (never the system service). chromium
# renders the HTML report in its test; TAKT_NO_CHROMIUM=1 skips it (make demo needs none).
packages=(protobuf-compiler libmosquitto-dev mosquitto mosquitto-clients nats-server libsqlite3-dev sqlite3 openssl pkg-config python3-pip
          postgresql postgresql-client)
[ "${TAKT_NO_CHROMIUM:-0}" = 1 ] || packages+=(chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Python tools the tests use (the Compose schema validator).
if ! python3 -m check_jsonschema --version >/dev/null 2>&1; then
  echo "install-deps: installing check-jsonschema (PyPI)" >&2
  python3 -m pip install --quiet --disable-pip-version-check check-jsonschema >/dev/null 2>&1 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages check-jsonschema
fi
# The Sparkplug tests' independent encoder: Python's protobuf, pinned to the runtime that the
# Debian 12 protoc (3.21) generates code for (4.21.x; later runtimes refuse that code).
if ! python3 -c 'import google.protobuf, sys; sys.exit(0 if google.protobuf.__version__.startswith("4.21.") else 1)' 2>/dev/null; then
  echo "install-deps: installing protobuf 4.21.12 (PyPI)" >&2
  python3 -m pip install --quiet --disable-pip-version-check protobuf==4.21.12 >/dev/null 2>&1 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages protobuf==4.21.12
fi
# schemathesis: LiveAPITests generates requests from taktd's /openapi.json (pinned: its CLI moves).
if ! python3 -c 'import schemathesis' >/dev/null 2>&1; then
  echo "install-deps: installing schemathesis (PyPI)" >&2
  python3 -m pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5' >/dev/null 2>&1 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages 'schemathesis==4.32.5'
fi
# websocket-client: LiveAPITests drives headless Chromium over the DevTools protocol
# (Tests/TaktDaemonTests/cdp_probe.py) to read the live page as it updates.
if ! python3 -c 'import websocket' >/dev/null 2>&1; then
  echo "install-deps: installing websocket-client (PyPI)" >&2
  python3 -m pip install --quiet --disable-pip-version-check 'websocket-client==1.8.0' >/dev/null 2>&1 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages 'websocket-client==1.8.0'
fi
command -v swift >/dev/null || { echo "install-deps: no Swift toolchain on PATH (Swift 6.1 or later is needed)" >&2; exit 1; }
