"""Bad input stops `mechmooc serve` with one line that names the fault, a non-zero exit and no traceback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.instances import base_environment, free_port, mechmooc_command

pytestmark = pytest.mark.slow


def serve(
    tmp_path: Path, env: dict[str, str], port: int | None = None, wrap: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `mechmooc serve`, expected to refuse to start."""
    environ = base_environment({"MECHMOOC_DATA_DIR": str(tmp_path / "data"), **env})
    command = [*mechmooc_command(), "serve", "--port", str(port or free_port())]
    return subprocess.run(
        [*(wrap or []), *command], env=environ, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MECHMOOC_COLOUR", "blue"),
        ("MECHMOOC_INSECURE_HTTP", "maybe"),
        ("MECHMOOC_URL", "ftp://example.org"),
        ("MECHMOOC_SMTP_CONNECTIONS", "many"),
        ("MECHMOOC_BROKER_URL", "localhost:6379"),
    ],
)
def test_unknown_or_malformed_setting_is_named(tmp_path, name, value):
    assert_one_line_error(serve(tmp_path, {name: value}), name)


def test_unreachable_database_is_a_clear_error(tmp_path):
    dead = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing"
    assert_one_line_error(serve(tmp_path, {"MECHMOOC_DATABASE_URL": dead}), "MECHMOOC_DATABASE_URL", "cannot connect")


def test_busy_port_is_a_clear_error(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = serve(tmp_path, {}, port=port)
    assert_one_line_error(result, f"port {port}", "busy")
    assert not (tmp_path / "data").exists()  # nothing half-written


def test_data_dir_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = serve(tmp_path, {"MECHMOOC_DATA_DIR": str(blocker / "data")})
    assert_one_line_error(result, "MECHMOOC_DATA_DIR", str(blocker / "data"))


def test_read_only_data_dir(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    wrap: list[str] = []
    if os.geteuid() == 0:
        # root writes through file modes, so make the folder a read-only mount in a namespace of its own.
        if not shutil.which("unshare"):
            pytest.skip("unshare(1) is needed to make a read-only folder for root")
        wrap = ["unshare", "-rm", "sh", "-c", f'mount -o bind,ro "{data}" "{data}" && exec "$@"', "sh"]
    else:
        data.chmod(0o555)
    result = serve(tmp_path, {"MECHMOOC_DATA_DIR": str(data)}, wrap=wrap)
    assert_one_line_error(result, "MECHMOOC_DATA_DIR", "not writable")
