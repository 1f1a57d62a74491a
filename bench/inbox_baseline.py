"""The durable minimum of an inbox, as a server: the baseline of bench/federation_inbox.py.

    python3 bench/inbox_baseline.py PORT KEYS_JSON    (MECHMOOC_* in the environment: its own data dir)

A bare Starlette endpoint under uvicorn with the settings `mechmooc serve` gives uvicorn: it reads the
body, parses the JSON, verifies the HTTP signature (one RSA verification) with a public key held in
memory (KEYS_JSON maps key ids to PEMs), inserts one row into the same inbox table and commits, then
answers 202. No block, no dedupe, no policy (Date, Digest), no key owner check: what any inbox must
at least do before it may answer 202. On SQLite its writers queue on a lock, as ours do.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from contextlib import nullcontext
from pathlib import Path

import uvicorn
from federation_support import ROOT  # noqa: F401 - puts the repository on sys.path
from sqlalchemy import insert
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def make_app(url: str, keys: dict[str, str]) -> Starlette:
    """The baseline app: POST /inbox only."""
    from federation.models import InboxActivity
    from federation.protocol.crypto import load_public_key
    from federation.protocol.signatures import ReceivedRequest, parse_signature, verify_signature
    from server.floor.clock import now
    from server.floor.db import get_engine

    engine = get_engine()
    statement = insert(InboxActivity)
    writer = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
    for pem in keys.values():
        load_public_key(pem)  # parsed once, cached: the key is known

    def store(received: ReceivedRequest, activity: dict[str, object]) -> int:
        parsed = parse_signature(received)
        if parsed.key_id not in keys or not verify_signature(parsed, keys[parsed.key_id]):
            return 401
        instant = now()
        row = {
            "activity_id": str(activity["id"]),
            "type": str(activity.get("type", "")),
            "actor": str(activity.get("actor", "")),
            "payload": activity,
            "received_at": instant,
            "next_attempt_at": instant,
        }
        with writer, engine.connect() as connection:
            connection.execute(statement, row)
            connection.commit()
        return 202

    async def inbox(request: Request) -> Response:
        body = await request.body()
        activity = json.loads(body)
        received = ReceivedRequest.build("POST", url + "/inbox", request.headers.items(), body)
        return Response(status_code=await run_in_threadpool(store, received, activity))

    return Starlette(routes=[Route("/inbox", inbox, methods=["POST"])])


def main() -> None:
    """Boot on the environment's data dir and serve the baseline on 127.0.0.1:PORT."""
    from server.floor.settings import load_settings
    from server.roof.bootstrap import boot
    from server.roof.console import access_log

    port, keys = int(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
    settings = boot(load_settings())
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    # The uvicorn settings of server/roof/serve.py (access log included, as there).
    uvicorn.run(
        make_app(settings.url, keys),
        host="127.0.0.1",
        port=port,
        log_level=settings.log_level,
        access_log=access_log(settings.log_level),
        timeout_graceful_shutdown=30,
        server_header=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
