"""How long `mechmooc serve` takes to be ready, on a warm machine, and where the import time goes.

    python3 bench/startup.py [--repeat 3] [--worker] [--top 15]

Starts `mechmooc serve --no-worker` (with its worker and scheduler if --worker) on a data dir made
by a first, unmeasured start, and times from the process start until GET /.well-known/nodeinfo
answers 200 (the contract's "ready"); prints each and the median. Then imports what serve imports
under `python -X importtime` and prints the modules with the largest cumulative import time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from federation_support import ROOT

from tests.support.instances import base_environment, free_port, mechmooc_command

SERVE_IMPORTS = (
    "from server.roof.cli import main; import server.roof.serve, server.roof.app, server.roof.bootstrap; "
    "from server.roof.models import load_all; load_all(); import server.roof.wiring, server.roof.celery_app"
)


def time_to_ready(data: Path, worker: bool) -> float:
    """Seconds from starting serve until nodeinfo answers 200; serve is stopped again."""
    port = free_port()
    env = base_environment(
        {"MECHMOOC_DATA_DIR": str(data), "MECHMOOC_URL": f"http://127.0.0.1:{port}", "PYTHONPATH": str(ROOT)}
    )
    args = [*mechmooc_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    began = time.perf_counter()
    process = subprocess.Popen(
        [*args, *([] if worker else ["--no-worker"])],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while time.perf_counter() - began < 60:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/.well-known/nodeinfo", timeout=1).status_code == 200:
                    return time.perf_counter() - began
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        raise RuntimeError("serve was not ready within 60 s")
    finally:
        process.terminate()
        process.wait(60)


def import_offenders(top: int) -> list[tuple[float, str]]:
    """The `top` modules by cumulative import time (ms) when importing what serve imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", SERVE_IMPORTS], capture_output=True, text=True, check=True
    )
    found = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.removeprefix("import time:").split("|")
        found.append((int(cumulative) / 1000, name.rstrip()))
    total = sum(ms for ms, name in found if not name.startswith("   "))  # the top-level imports
    shown = sorted(found, reverse=True)[:top]
    return [(total, "(everything serve imports)"), *shown]


def main() -> None:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="mechmooc-startup-"))
    first = time_to_ready(data, args.worker)  # migrates, makes keys: not what a restart costs
    times = [time_to_ready(data, args.worker) for _ in range(args.repeat)]
    print(f"first start (migrations, keys): {first:.2f} s")
    print(f"ready after: {', '.join(f'{t:.2f}' for t in times)} s; median {statistics.median(times):.2f} s")
    print("import time (cumulative, ms):")
    for ms, name in import_offenders(args.top):
        print(f"  {ms:8.1f}  {name}")


if __name__ == "__main__":
    main()
