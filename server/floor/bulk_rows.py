"""Many rows into one table at the driver's speed: PostgreSQL's COPY, SQLite's executemany of tuples.

A Core executemany of 100,000 dicts spends most of its time in per-value work of SQLAlchemy (each
datetime, JSON document and parameter set converted one by one) rather than in the database. A
bulk import's rows share most of their values (one instant, a few zones, an empty answers
document), so here each column's type conversion runs once per distinct value, and the rows go to
the driver as tuples: on PostgreSQL by COPY (several times faster than an executemany of INSERTs),
on SQLite by one executemany of the compiled INSERT. The values stored are the ones a Core insert
stores: the same bind processors make them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError

from server.floor import changes

Row = Sequence[Any]


def _processed(values: Sequence[Any], process: Callable[[Any], Any]) -> list[Any]:
    """`process` applied to each value, once per distinct value (empty documents count as one, and
    a value that is converted to the same object each time counts as one too)."""
    memo: dict[Any, Any] = {}
    out = []
    for value in values:
        try:
            key = value if value.__hash__ is not None else (type(value), len(value) or None)
        except TypeError:
            key = None
        if key is None or isinstance(key, tuple) and key[1] is not None:
            out.append(process(value))  # a non-empty document: converted each time
            continue
        if key not in memo:
            memo[key] = process(value)
        out.append(memo[key])
    return out


def _prepared(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Row],
    order: Sequence[str],
    finish: Callable[[Any], Any] | None = None,
) -> list[tuple[Any, ...]]:
    """The rows as the driver takes them, their values in the `order` of columns, each value converted
    by its column type's bind processor (then by `finish`, when given)."""
    if not rows:
        return []
    dialect = connection.dialect
    given: list[Sequence[Any]] = list(zip(*rows, strict=True))
    by_column = [given[columns.index(name)] for name in order]
    for index, name in enumerate(order):
        bind = table.c[name].type._cached_bind_processor(dialect)
        if bind is not None:
            by_column[index] = _processed(by_column[index], bind if finish is None else _then(bind, finish))
    return list(zip(*by_column, strict=True))


def _then(first: Callable[[Any], Any], second: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: second(first(value))


def insert_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Row],
    progress: Callable[[int], None] | None = None,
    batch: int = 5000,
) -> None:
    """Insert `rows` (sequences of the `columns`' values, in that order) into `table`, in the
    connection's transaction; `progress(n)` after each `batch` rows."""
    if connection.dialect.name == "postgresql":
        _copy(connection, table, columns, rows, progress, batch)
        return
    compiled = insert(table).compile(dialect=connection.dialect, column_keys=list(columns))
    order = compiled.positiontup or []
    if sorted(order) != sorted(columns):
        raise ValueError(f"insert_rows: {table.name} takes positional parameters {order}, not {list(columns)}")
    prepared, statement = _prepared(connection, table, columns, rows, order), str(compiled)
    for start in range(0, len(prepared), batch):
        chunk = prepared[start : start + batch]
        connection.exec_driver_sql(statement, chunk)  # type: ignore[arg-type]
        if progress:
            progress(len(chunk))


def _copy(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Row],
    progress: Callable[[int], None] | None,
    batch: int,
) -> None:
    """COPY the rows in (psycopg), on the connection's own transaction."""
    from psycopg.adapt import PyFormat, Transformer  # PostgreSQL only: not imported at startup on SQLite
    from psycopg.types.json import Json, Jsonb

    preparer = connection.dialect.identifier_preparer
    names = ", ".join(preparer.quote(name) for name in columns)
    statement = f"COPY {preparer.format_table(table)} ({names}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None
    transformer = Transformer(driver)

    def as_text(value: Any) -> Any:
        # A JSON document wrapped for psycopg would be serialised again on every row: its text once.
        if isinstance(value, Json | Jsonb):
            return bytes(transformer.get_dumper(value, PyFormat.TEXT).dump(value) or b"").decode()
        return value

    rows = _prepared(connection, table, columns, rows, columns, as_text)
    # The driver is used directly: tell the cache of public pages that this connection wrote.
    changes.mark(connection)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                for row in chunk:
                    copy.write_row(row)
                if progress:
                    progress(len(chunk))
    except connection.dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(statement, None, error, connection.dialect.loaded_dbapi.Error) from error
