"""`headstart --version` prints the installed package's version."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

from typer.testing import CliRunner

from headstart import __version__
from headstart.cli.app import app


def test_version_prints_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0, result.output
    assert result.output == f"headstart {version('headstart')}\n"


def test_version_loads_no_command() -> None:
    script = (
        "import sys\n"
        "sys.argv = ['headstart', '--version']\n"
        "from headstart.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(name for name in sys.modules if name.startswith('headstart.cli.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )

    assert done.stdout.splitlines() == [
        f"headstart {version('headstart')}",
        "LOADED ['headstart.cli.app']",
    ]
    assert __version__ == version("headstart")
