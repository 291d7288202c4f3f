#!/usr/bin/env bash
# Regenerates Sources/SparkplugB/sparkplug_b.pb.swift from Sources/SparkplugB/sparkplug_b.proto
# (Eclipse Tahu's Sparkplug B schema). Run only when the .proto changes; the generated file is
# committed so that a build needs no protoc.
#
# Needs Debian's protoc (apt-get install protobuf-compiler) and protoc-gen-swift of the same
# swift-protobuf version Package.swift resolves (1.39.0). Building the plugin takes ~10 min on
# 2 cores, so it is built once into $PLUGIN_DIR and reused:
#   scripts/gen-sparkplug.sh                # builds the plugin if missing, then generates
#   PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift scripts/gen-sparkplug.sh
#
# With --python DIR it also writes sparkplug_b_pb2.py into DIR (the independent encoder the
# tests use: Python's protobuf from PyPI, scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFT_PROTOBUF_VERSION=1.39.0
PLUGIN_DIR=${PLUGIN_DIR:-/tmp/swift-protobuf-$SWIFT_PROTOBUF_VERSION}
BUILD_LOCK=${BUILD_LOCK:-/tmp/swift-build.lock}
PROTO_DIR=Sources/SparkplugB

python_out=""
if [[ "${1:-}" == "--python" ]]; then
    python_out=${2:?--python needs a directory}
fi

command -v protoc >/dev/null || { echo "gen-sparkplug: protoc is missing (apt-get install protobuf-compiler)" >&2; exit 1; }

if [[ -n "$python_out" ]]; then
    mkdir -p "$python_out"
    protoc --proto_path="$PROTO_DIR" --python_out="$python_out" "$PROTO_DIR/sparkplug_b.proto"
    exit 0
fi

plugin=${PROTOC_GEN_SWIFT:-$PLUGIN_DIR/.build/release/protoc-gen-swift}
if [[ ! -x "$plugin" ]]; then
    if [[ ! -d "$PLUGIN_DIR" ]]; then
        # The package mirror's copy when there is one, else GitHub.
        src=https://github.com/apple/swift-protobuf.git
        [[ -d /opt/swift-packages/apple/swift-protobuf.git ]] && src=/opt/swift-packages/apple/swift-protobuf.git
        git clone --quiet "$src" "$PLUGIN_DIR"
    fi
    git -C "$PLUGIN_DIR" checkout --quiet "$SWIFT_PROTOBUF_VERSION"
    (cd "$PLUGIN_DIR" && flock "$BUILD_LOCK" swift build -c release --product protoc-gen-swift)
fi

protoc --proto_path="$PROTO_DIR" --plugin=protoc-gen-swift="$plugin" \
    --swift_opt=Visibility=Public --swift_out="$PROTO_DIR" "$PROTO_DIR/sparkplug_b.proto"
echo "wrote $PROTO_DIR/sparkplug_b.pb.swift"
