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


def test_port_zero_prints_the_chosen_port(tmp_path: Path) -> None:
    # Without -v: the listening address is the only place the chosen port is given.
    process = subprocess.Popen(
        [sys.executable, "-c", "from headstart.cli import main; main()",
         "serve", "--http", "--host", "127.0.0.1", "--port", "0", "--db", str(tmp_path / "store")],
        env={**os.environ, "HEADSTART_CONFIG": os.devnull, "HEADSTART_DATA_DIR": str(tmp_path / "data")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        address = None
        assert process.stderr is not None
        for line in process.stderr:
            if "Uvicorn running on http://127.0.0.1:" in line:
                address = line.split("running on ")[1].split()[0]
                break
        assert address is not None, "the server ended without printing its address"

        port = int(address.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            reply = connection.recv(200).decode()
    finally:
        process.terminate()
        process.wait(timeout=60)

    assert port > 0
    assert reply.startswith("HTTP/1.1 200")
