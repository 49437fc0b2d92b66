"""`headstart serve` run as a user runs it: a port already taken fails at once with the fix."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = subprocess.run(
            [sys.executable, "-c", "from headstart.cli import main; main()",
             "serve", "--http", "--host", "127.0.0.1", "--port", str(port), "--db", str(tmp_path / "store")],
            env={**os.environ, "HEADSTART_CONFIG": os.devnull, "HEADSTART_DATA_DIR": str(tmp_path / "data")},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert result.returncode == 2
    assert f"error: port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port 0 picks one" in result.stderr
    assert not (tmp_path / "store").exists()
