"""A minimal, fast SMTP sink for benchmarks: accepts everything, counts messages, keeps nothing.

Run as its own process (`python -m bench.smtp_sink PORT`) so it does not share the sender's GIL.
`python3 bench/smtp_sink.py PORT --record` also notes when each message arrived (wall clock, at its
final ".") with its recipients and Subject, and prints them as one JSON list when its stdin closes
(bench/mail_latency.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time

SUBJECT = re.compile(rb"\r\nSubject: ?([^\r\n]*)", re.IGNORECASE)


class SinkProtocol(asyncio.Protocol):
    """Just enough ESMTP (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) with pipelined input."""

    record: list[tuple[float, list[str], str]] | None = None  # (arrival, recipients, subject) when recording
    extensions = b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""
        self.in_data = False
        self.recipients: list[str] = []
        self.transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                if self.record is not None:
                    head_end = self.buffer.find(b"\r\n\r\n", 0, end)
                    subject = SUBJECT.search(self.buffer, 0, end if head_end < 0 else head_end + 2)
                    title = subject.group(1).decode("utf-8", "replace") if subject else ""
                    self.record.append((time.time(), self.recipients, title))
                self.recipients = []
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                self.transport.write(b"250 2.0.0 queued\r\n")
                continue
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return
            line, self.buffer = self.buffer[:line_end], self.buffer[line_end + 2 :]
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.transport.write(self.extensions)
            elif verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer  # so an empty body still ends at CRLF.CRLF
                self.transport.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                if verb == b"RCPT":
                    self.recipients.append(line.partition(b":")[2].strip(b" <>").decode("utf-8", "replace").lower())
                elif verb == b"RSET":
                    self.recipients = []
                self.transport.write(b"250 OK\r\n")


async def serve(port: int, record: bool = False) -> None:
    """Listen on 127.0.0.1:`port` until killed (or, recording, until stdin closes: then print what came)."""
    if record:
        SinkProtocol.record = []
    server = await asyncio.get_running_loop().create_server(SinkProtocol, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        if not record:
            await server.serve_forever()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        print(json.dumps(SinkProtocol.record), flush=True)


if __name__ == "__main__":
    if "--no-pipelining" in sys.argv[2:]:  # a server that does not offer it: one command at a time
        SinkProtocol.extensions = b"250-sink\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"
    asyncio.run(serve(int(sys.argv[1]), record="--record" in sys.argv[2:]))
