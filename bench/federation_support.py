"""Shared parts of the federation benchmarks: a many-port HTTP sink process and RSA baselines.

`python3 bench/federation_support.py sink N` listens on N free ports of 127.0.0.1 (one asyncio
server each, answering every POST with 202), prints the ports as one JSON line, and prints the
number of requests received when its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# First, even when PYTHONPATH names it too: bench/ itself is sys.path[0], and bench/mail.py would
# otherwise stand for the mail package.
if str(ROOT) in sys.path:
    sys.path.remove(str(ROOT))
sys.path.insert(0, str(ROOT))


def rsa_rate(seconds: float = 1.5, verify: bool = False) -> tuple[float, float]:
    """RSA-2048 PKCS#1 v1.5 SHA-256 signatures (or verifications) per wall second and per CPU second."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = b"(request-target): post /inbox\nhost: example.org\ndate: Wed, 25 Nov 2026 12:00:00 GMT"
    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    public = key.public_key()
    count, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            if verify:
                public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            else:
                key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        count += 50
    return count / (time.perf_counter() - start), count / max(1e-9, time.process_time() - cpu)


async def _serve(ports_wanted: int) -> None:
    received = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                received += 1
                writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    servers = [await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256) for _ in range(ports_wanted)]
    print(json.dumps([s.sockets[0].getsockname()[1] for s in servers]), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    print(received, flush=True)
    for server in servers:
        server.close()


class SinkProcess:
    """The sink as a child process: `ports` to deliver to, `stop()` returns how many POSTs it got."""

    def __init__(self, ports: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "sink", str(ports)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.ports: list[int] = json.loads(self.process.stdout.readline())

    def stop(self) -> int:
        """Stop the sink; the number of requests it received."""
        out, _ = self.process.communicate("", timeout=30)
        return int(out.strip() or 0)


if __name__ == "__main__" and sys.argv[1:2] == ["sink"]:
    asyncio.run(_serve(int(sys.argv[2])))
