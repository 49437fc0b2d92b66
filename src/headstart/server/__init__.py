"""The MCP server and the HTTP app; both call `headstart.service` and hold no logic of their own."""

from headstart.server.app import build_app as build_app
from headstart.server.tools import build_server as build_server

__all__ = ["build_app", "build_server"]
