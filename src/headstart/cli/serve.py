"""`headstart serve`: the MCP server over stdio, or the HTTP server with MCP, REST and OTLP."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import socket
import sys

import anyio
import typer
import uvicorn

from headstart.cli.app import app
from headstart.cli.common import DbOption, ModelOption, VerboseOption, setup
from headstart.errors import InputError
from headstart.logs import configure_logging
from headstart.server.app import build_app
from headstart.server.tools import build_server
from headstart.service import Headstart

logger = logging.getLogger("headstart.cli.serve")


@app.command()
def serve(
    http: bool = typer.Option(
        False, "--http", help="Serve streamable HTTP (MCP at /mcp, REST, OTLP) instead of stdio."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on with --http."),
    port: int = typer.Option(
        8787, "--port", min=0, max=65535, metavar="<int>", help="Port to listen on with --http (0: any free port)."
    ),
    repo: str | None = typer.Option(
        None,
        "--repo",
        help="Repository that tools use when a call names none [default: current or only indexed].",
    ),
    shutdown_timeout: float | None = typer.Option(
        None,
        "--shutdown-timeout",
        min=0,
        metavar="<float>",
        help="Seconds a stopping --http server lets in-flight requests finish [default: 30].",
    ),
    db: str | None = DbOption,
    model: str | None = ModelOption,
    verbose: int = VerboseOption,
) -> None:
    """Serve Headstart's tools to coding agents; stdout carries only MCP messages in stdio mode.

    Example: headstart serve --http --port 8787 --repo ~/src/project
    """
    # Until the stdio transport takes over stdout, anything printed while starting up would reach
    # the client as a broken message, so Python-level output goes to stderr meanwhile.
    if http:
        # Checked before the model loads, so a taken port fails at once rather than after the load.
        _check_port_free(host, port)
    with contextlib.redirect_stdout(sys.stderr):
        settings = setup(db, model, verbose)
        # Again with the settings, which may ask for JSON lines from the config file.
        configure_logging(verbose, settings.log_format)
        if settings.log_format == "json":
            # A log collector reads stderr line by line; the model loader's progress bars would
            # reach it as broken lines. The Hugging Face libraries read this when imported.
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        headstart = Headstart(settings)

        # A wrong --repo should stop the server now, not fail every tool call later.
        default_repo = None
        if repo:
            name, path = headstart.resolve_repo(repo)
            default_repo = str(path) if path is not None else name

    if not http:
        server = build_server(settings, headstart, repo=default_repo)
        try:
            anyio.run(server.run_stdio_async)
        except KeyboardInterrupt:
            pass
        return

    if not settings.api_token and not _is_loopback(host):
        logger.warning(
            "listening on %s without an api_token: anyone who can reach it can read briefs and "
            "write the ledger; set HEADSTART_API_TOKEN",
            host,
        )
    _show_server_lines(verbose)
    web_app = build_app(settings, headstart, repo=default_repo, host=host)
    # On SIGTERM or SIGINT uvicorn stops accepting connections and lets requests in progress
    # finish for up to the shutdown timeout. The app logs its own access lines, with request
    # ids, so uvicorn's are off.
    uvicorn.run(
        web_app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        # Longer than a load balancer's idle timeout (often 60 s), so the balancer, not the
        # server, closes idle connections: otherwise a request the balancer sends on a
        # connection the server is closing at that moment fails with a 502.
        timeout_keep_alive=settings.keep_alive_timeout,
        timeout_graceful_shutdown=(
            settings.shutdown_timeout if shutdown_timeout is None else shutdown_timeout
        ),
    )


def _show_server_lines(verbose: int) -> None:
    """Send uvicorn's start, stop and listening address to stderr even without -v.

    They are what an operator looks for first, and with --port 0 the address is the only place
    the chosen port is given. The root handler stops INFO lines without -v, so these get a
    handler of their own, formatted like the others.
    """
    root_handlers = logging.getLogger().handlers
    handler = logging.StreamHandler(sys.stderr)
    if root_handlers:
        handler.setFormatter(root_handlers[0].formatter)
        for log_filter in root_handlers[0].filters:
            handler.addFilter(log_filter)
    level = logging.INFO if verbose < 2 else logging.DEBUG
    handler.setLevel(level)
    server_log = logging.getLogger("uvicorn.error")
    server_log.setLevel(level)
    server_log.handlers[:] = [handler]
    server_log.propagate = False


def _check_port_free(host: str, port: int) -> None:
    """Raise InputError naming the fix when `host:port` cannot be bound, as when another server has it."""
    if port == 0:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise InputError(f"invalid --host {host!r}: {exc.strerror}; pass an address such as 127.0.0.1") from exc
    with socket.socket(family, kind, proto) as probe:
        # As uvicorn binds: a port whose last connections are still closing counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InputError(
                    f"port {port} on {host} is already in use, probably by another server: stop it, "
                    "or pass --port with a free port (--port 0 picks one)"
                ) from exc
            raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}; pass another --host or --port") from exc


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
