"""How much a wide queue row costs SQLite: mark-then-answer transactions on narrow vs 3.2 KB rows.

    python bench/sqlite_row_width.py [--rows 20000]

The outbox keeps each mail's message (about 3.3 KB) in its queue row, and every lease, in-flight mark
and answer rewrites that row. This raw sqlite3 loop (WAL, synchronous=NORMAL, as the instance runs)
does what the sender does per round of 40 mails, once with an empty message column and once with
3,200 bytes, and prints ms per transaction and the ratio.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path


def per_transaction(width: int, rows: int, directory: Path) -> float:
    connection = sqlite3.connect(directory / f"width{width}.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE mail (id INTEGER PRIMARY KEY, state TEXT, sending_at TEXT, locked_until TEXT,"
        " response TEXT, message TEXT)"
    )
    connection.execute("CREATE INDEX ix_due ON mail (state, locked_until)")
    connection.execute("BEGIN")
    connection.executemany("INSERT INTO mail (state, message) VALUES ('queued', ?)", [("x" * width,)] * rows)
    connection.execute("COMMIT")
    began = time.perf_counter()
    transactions = 0
    for first in range(1, rows + 1, 40):
        ids = list(range(first, min(first + 40, rows + 1)))
        marks = ",".join("?" * len(ids))
        connection.execute("BEGIN")
        connection.execute(f"UPDATE mail SET sending_at = '2026-03-02' WHERE id IN ({marks})", ids)  # noqa: S608
        connection.executemany(
            "UPDATE mail SET state = 'done', sending_at = NULL, locked_until = NULL, response = ? WHERE id = ?",
            [("250 ok", i) for i in ids],
        )
        connection.execute("COMMIT")
        transactions += 1
    connection.close()
    return (time.perf_counter() - began) / transactions * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mechmooc-bench-width-") as directory:
        narrow = per_transaction(0, args.rows, Path(directory))
        wide = per_transaction(3200, args.rows, Path(directory))
    print(f"{args.rows} rows, transactions of 40 (mark in flight, then answer)")
    print(f"narrow rows (no message):  {narrow:6.2f} ms a transaction")
    print(f"3,200-byte message in row: {wide:6.2f} ms a transaction")
    print(f"ratio wide/narrow: {wide / narrow:.1f}")


if __name__ == "__main__":
    main()
