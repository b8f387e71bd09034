#!/usr/bin/env bash
# Builds zscaler-lifecycle-mcp-<version>.mcpb (a zip of manifest.json + the release binary) for
# one-click install in Claude Desktop. Usage: scripts/build-mcpb.sh [output-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/mcpb}"
cargo build --release --locked
version=$(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/server" "$out"
cp packaging/mcpb/manifest.json "$stage/manifest.json"
cp target/release/zscaler-lifecycle-mcp "$stage/server/"
cp README.md "$stage/"
python3 - "$stage" "$out/zscaler-lifecycle-mcp-$version.mcpb" <<'PY'
import os, sys, zipfile
stage, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
    for root, _, files in os.walk(stage):
        for f in files:
            path = os.path.join(root, f)
            info = zipfile.ZipInfo.from_file(path, os.path.relpath(path, stage))
            with open(path, "rb") as fh:
                z.writestr(info, fh.read(), zipfile.ZIP_DEFLATED)
print(target)
PY
