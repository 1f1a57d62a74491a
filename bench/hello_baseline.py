"""A Starlette hello-world JSON endpoint under serve's uvicorn settings: the baseline of bench/pages.py.

    python3 bench/hello_baseline.py PORT

GET / answers {"hello": "world"}; uvicorn runs with the settings `mechmooc serve` gives it (log level
info, its access log, no server header, no proxy headers), in a process of its own.
"""

from __future__ import annotations

import logging
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(_: Request) -> JSONResponse:
    """The smallest JSON answer."""
    return JSONResponse({"hello": "world"})


def main() -> None:
    """Serve the endpoint on 127.0.0.1:PORT."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    uvicorn.run(
        Starlette(routes=[Route("/", hello)]),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="info",
        access_log=True,
        timeout_graceful_shutdown=30,
        server_header=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
