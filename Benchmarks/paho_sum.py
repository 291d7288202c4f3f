#!/usr/bin/env python3
"""What a user would write instead of Takt: a paho-mqtt subscriber that parses each JSON
payload and sums good, scrap and energy per line and minute (issue 6, subject c of the
end-to-end benchmark).

    python3 paho_sum.py PORT COUNT QOS [CLIENT_ID]

With CLIENT_ID the session is persistent (clean session off): run it once with COUNT 0 to create
the session, publish while it is away, run it again to drain the backlog.

Prints "ready" once subscribed; exits after COUNT messages, printing messages/s from the first
message to the last and the wall-clock time of the last one (time.time()).
"""
import json
import sys
import time
from collections import defaultdict

import paho.mqtt.client as mqtt

port, target, qos = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
fixed_id = sys.argv[4] if len(sys.argv) > 4 else None
sums = defaultdict(lambda: [0, 0, 0.0])  # (site, line, minute start ms) -> [good, scrap, kWh]
state = {"n": 0, "first": 0.0, "last": 0.0, "last_wall": 0.0}


def on_connect(client, userdata, flags, reason_code, properties):
    client.subscribe("takt/v1/#", qos=qos)


def on_subscribe(client, userdata, mid, reason_codes, properties):
    print("ready", flush=True)
    if target == 0:
        client.disconnect()


def on_message(client, userdata, msg):
    parts = msg.topic.split("/")
    if len(parts) == 6:
        try:
            p = json.loads(msg.payload)
        except ValueError:
            p = None
        if isinstance(p, dict) and parts[5] == "unit":
            good = p.get("good", 1)
            key = (parts[2], parts[3], p["ts"] // 60000 * 60000)
            s = sums[key]
            s[0] += good
            s[1] += p.get("scrap", 0)
            s[2] += p.get("energy_kwh", 0.0)
    state["n"] += 1
    if state["n"] == 1:
        state["first"] = time.monotonic()
    if state["n"] == target:
        state["last"] = time.monotonic()
        state["last_wall"] = time.time()
        client.disconnect()


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=fixed_id or f"paho-sum-{time.time_ns()}",
                     clean_session=fixed_id is None)
client.max_inflight_messages_set(1000)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect("127.0.0.1", port, keepalive=60)
client.loop_forever()
elapsed = state["last"] - state["first"]
rate = (target - 1) / elapsed if elapsed > 0 else 0.0
print(f"{target} messages, QoS {qos}, {elapsed:.3f} s first to last, {rate:.0f} msg/s, "
      f"last_wall {state['last_wall']:.6f}, {len(sums)} line-minutes", flush=True)
