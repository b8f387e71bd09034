#!/usr/bin/env python3
"""Side by side: this server and the official Zscaler MCP server (PyPI `zscaler-mcp`), measured
in one run on one machine over stdio, the two servers alternating run by run (so a busy moment
of the machine costs both alike): spawn -> initialize latency, tools/list latency (the first
call, and steady: the median of the next LIST_REPEATS calls) and size, tool count, and peak
RSS after tools/list.

    scripts/compare-official.py [--runs 10] [--bin target/release/zscaler-lifecycle-mcp]

The official server is installed into a temporary virtualenv from PyPI (or reused from
$OFFICIAL_VENV). Neither server reaches the network: ours serves its embedded demo tenant; the
official one is given dummy credentials and only answers initialize and tools/list, which need
no tenant. Prints a markdown table with ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def rss_peak_kb(pid: int) -> int:
    """VmHWM of the process and its children (the official server may start via a wrapper)."""
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
        pids += [int(p) for p in out.stdout.split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Peer:
    def __init__(self, argv: list[str], env: dict[str, str]):
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buf = b""
        self.next_id = 1

    def send(self, msg: dict) -> None:
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def request(self, method: str, params: dict, timeout: float = 60.0) -> tuple[bytes, dict]:
        rid = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        deadline = time.perf_counter() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if msg.get("id") == rid:
                    return line, msg
            left = deadline - time.perf_counter()
            if left <= 0 or not self.sel.select(left):
                raise TimeoutError(f"{method}: no answer")
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
            if not chunk:
                raise EOFError(f"{method}: server closed stdout")
            self.buf += chunk

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


# tools/list calls after the first in each run, for the steady latency.
LIST_REPEATS = 5


class Samples:
    def __init__(self) -> None:
        self.init_ms, self.first_ms, self.steady_ms = [], [], []
        self.sizes, self.tools, self.rss = [], [], []

    def summary(self) -> dict:
        return {
            "init_ms": statistics.median(self.init_ms),
            "first_ms": statistics.median(self.first_ms),
            "steady_ms": statistics.median(self.steady_ms),
            "bytes": statistics.median(self.sizes),
            "tools": max(self.tools),
            "rss_mb": statistics.median(self.rss) / 1024,
        }


def measure_once(argv: list[str], env: dict[str, str], out: Samples) -> None:
    peer = Peer(argv, env)
    try:
        peer.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "compare", "version": "1"},
            },
        )
        out.init_ms.append((time.perf_counter() - peer.t0) * 1000)
        peer.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        t = time.perf_counter()
        line, msg = peer.request("tools/list", {})
        out.first_ms.append((time.perf_counter() - t) * 1000)
        out.sizes.append(len(line))
        out.tools.append(len(msg.get("result", {}).get("tools", [])))
        for _ in range(LIST_REPEATS):
            t = time.perf_counter()
            peer.request("tools/list", {})
            out.steady_ms.append((time.perf_counter() - t) * 1000)
        out.rss.append(rss_peak_kb(peer.proc.pid))
    finally:
        peer.close()


def official_venv() -> str:
    venv = os.environ.get("OFFICIAL_VENV")
    if venv and os.path.exists(os.path.join(venv, "bin", "zscaler-mcp")):
        return venv
    venv = os.path.join(tempfile.gettempdir(), "zscaler-mcp-official")
    if not os.path.exists(os.path.join(venv, "bin", "zscaler-mcp")):
        print(f">> installing zscaler-mcp from PyPI into {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run(
            [os.path.join(venv, "bin", "pip"), "install", "-q", "zscaler-mcp"], check=True
        )
    return venv


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--bin", default="target/release/zscaler-lifecycle-mcp")
    args = ap.parse_args()
    state = tempfile.mkdtemp()
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": state}
    ours_env = dict(base_env, ZSCALER_LIFECYCLE_MCP_STATE_DIR=state, RUST_LOG="error")
    venv = official_venv()
    # Dummy OneAPI credentials: initialize and tools/list never contact Zscaler.
    theirs_env = dict(
        base_env,
        ZSCALER_CLIENT_ID="dummy",
        ZSCALER_CLIENT_SECRET="dummy",
        ZSCALER_VANITY_DOMAIN="dummy",
        ZSCALER_CUSTOMER_ID="1",
        ZSCALER_CLOUD="production",
    )
    ours, theirs = Samples(), Samples()
    # Alternate run by run: a slow moment of a shared machine then costs both servers.
    for _ in range(args.runs):
        measure_once([args.bin, "serve"], ours_env, ours)
        measure_once([os.path.join(venv, "bin", "zscaler-mcp")], theirs_env, theirs)
    ours, theirs = ours.summary(), theirs.summary()
    shutil.rmtree(state, ignore_errors=True)
    rows = [
        ("spawn -> initialize (median ms)", "init_ms", "{:.1f}"),
        ("first tools/list latency (median ms)", "first_ms", "{:.2f}"),
        (f"steady tools/list latency (median of {LIST_REPEATS} more per run, ms)", "steady_ms", "{:.2f}"),
        ("tools/list size (bytes)", "bytes", "{:,.0f}"),
        ("tools listed", "tools", "{}"),
        ("peak RSS after tools/list (MB)", "rss_mb", "{:.1f}"),
    ]
    print(f"| measure ({args.runs} runs each, alternating) | zscaler-lifecycle-mcp | official zscaler-mcp | ratio |")
    print("|---|---:|---:|---:|")
    for label, key, fmt in rows:
        a, b = ours[key], theirs[key]
        ratio = f"{b / a:.1f}x" if a else "-"
        print(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
