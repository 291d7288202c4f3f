#!/usr/bin/env python3
"""An encoder of Sparkplug B payloads that shares no code with Takt: Python's protobuf (PyPI,
4.21.x) running the module Debian's protoc generates from Sources/SparkplugB/sparkplug_b.proto.
The Sparkplug tests use it so that what taktd decodes is not only what Takt itself encodes.

stdin: a JSON list of payloads, each {"timestamp", "seq", "metrics": [{"name", "alias",
"timestamp", "datatype", "is_historical", "is_null", and one of "int_value", "long_value",
"float_value", "double_value", "boolean_value", "string_value"}]} (every key optional).
stdout: one line of hex per payload.
"""
import json
import os
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = tempfile.mkdtemp(prefix="sparkplug-py-")
subprocess.run(["protoc", "--proto_path=" + os.path.join(root, "Sources/SparkplugB"), "--python_out=" + out,
                os.path.join(root, "Sources/SparkplugB/sparkplug_b.proto")], check=True)
sys.path.insert(0, out)
import sparkplug_b_pb2  # noqa: E402  (generated just above)

VALUE_FIELDS = ("int_value", "long_value", "float_value", "double_value", "boolean_value", "string_value")

for spec in json.load(sys.stdin):
    payload = sparkplug_b_pb2.Payload()
    if "timestamp" in spec:
        payload.timestamp = spec["timestamp"]
    if "seq" in spec:
        payload.seq = spec["seq"]
    for m in spec.get("metrics", []):
        metric = payload.metrics.add()
        for key in ("name", "alias", "timestamp", "datatype", "is_historical", "is_null") + VALUE_FIELDS:
            if key in m:
                setattr(metric, key, m[key])
    print(payload.SerializeToString().hex())
