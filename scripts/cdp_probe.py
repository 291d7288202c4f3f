#!/usr/bin/env python3
"""Reads taktd's live page as it updates, in headless Chromium over the DevTools protocol.

    cdp_probe.py DEVTOOLS_PORT PAGE_URL STOP_FILE SCREENSHOT_PNG

Opens PAGE_URL in the browser listening on DEVTOOLS_PORT, then every 100 ms reads the figures
the page shows (from its data-* attributes) and prints one JSON line {"t": epoch ms, "figures":
{...}} whenever they change. When STOP_FILE exists it takes a 1280-wide screenshot of the whole
page into SCREENSHOT_PNG, prints {"done": true} and exits. Used by LiveAPITests.livePage.
"""
import base64
import json
import os
import sys
import time
import urllib.request

import websocket  # websocket-client (PyPI), installed by scripts/install-deps.sh

FIGURES = r"""JSON.stringify({
  loaded: document.readyState,
  ytd: document.getElementById('ytd-gwh') ? document.getElementById('ytd-gwh').dataset.gwh : null,
  year: document.getElementById('year') ? document.getElementById('year').textContent : null,
  cells: [...document.querySelectorAll('#heatmap g.cell')].map(g => [g.dataset.line, +g.dataset.start, +g.dataset.good]),
  lines: [...document.querySelectorAll('#lines tr')].map(r => [r.dataset.line, r.querySelector('.state').textContent,
          r.querySelector('.oee').dataset.oee, r.querySelector('.oee').dataset.start, r.querySelector('.good').dataset.good]),
  alerts: [...document.querySelectorAll('.active-alert')].map(a => [a.dataset.line, a.dataset.kind])
})"""


def main():
    port, url, stop_file, png = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    deadline = time.time() + 60
    targets = None
    while time.time() < deadline:
        try:
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2))
            if any(t.get("type") == "page" for t in targets):
                break
        except OSError:
            pass
        time.sleep(0.1)
    page = next(t for t in targets if t.get("type") == "page")
    ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
    ids = iter(range(1, 1 << 30))

    def call(method, **params):
        i = next(ids)
        ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            message = json.loads(ws.recv())
            if message.get("id") == i:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    call("Emulation.setDeviceMetricsOverride", width=1280, height=1000, deviceScaleFactor=1, mobile=False)
    call("Page.navigate", url=url)
    last = None
    while not os.path.exists(stop_file):
        result = call("Runtime.evaluate", expression=FIGURES, returnByValue=True)
        value = result.get("result", {}).get("value")
        if value is not None and value != last:
            print(json.dumps({"t": int(time.time() * 1000), "figures": json.loads(value)}), flush=True)
            last = value
        time.sleep(0.1)
    height = call("Runtime.evaluate", expression="document.documentElement.scrollHeight", returnByValue=True)["result"]["value"]
    call("Emulation.setDeviceMetricsOverride", width=1280, height=int(height), deviceScaleFactor=1, mobile=False)
    time.sleep(0.3)
    shot = call("Page.captureScreenshot", format="png")
    with open(png, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print(json.dumps({"done": True}), flush=True)


if __name__ == "__main__":
    main()
