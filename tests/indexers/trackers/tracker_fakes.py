"""A tracker API on 127.0.0.1: recorded-shape JSON replies, Link paging, scripted failures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class FakeApi:
    """Replies by path and `page`; a route given several replies returns them in turn, then the last one."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.seen: list[Seen] = []
        self.base_url = ""

    def add(self, path: str, *replies: Reply | Any, page: int | None = None) -> None:
        key = path if page is None else f"{path}?page={page}"
        self.routes[key] = [reply if isinstance(reply, Reply) else Reply(body=reply) for reply in replies]

    def pages(self, path: str, *pages: list[Any]) -> None:
        """Serve `pages` at `path` with GitHub-style Link headers between them."""
        for number, items in enumerate(pages, 1):
            headers = {}
            if number < len(pages):
                headers["Link"] = f'<{self.base_url}{path}?page={number + 1}&per_page=100>; rel="next"'
            self.add(path, Reply(body=items, headers=headers), page=None if number == 1 else number)

    def reply(self, path: str, query: dict[str, str]) -> Reply:
        key = f"{path}?page={query['page']}" if query.get("page", "1") != "1" else path
        replies = self.routes.get(key)
        if not replies:
            return Reply(404, {"message": "Not Found"})
        return replies.pop(0) if len(replies) > 1 else replies[0]

    def paths(self) -> list[str]:
        return [seen.path for seen in self.seen]


@contextmanager
def serve(api: FakeApi, prefix: str = "") -> Iterator[FakeApi]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            parts = urlsplit(self.path)
            path = parts.path.removeprefix(prefix)
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            api.seen.append(Seen(path=path, query=query, headers=dict(self.headers)))
            reply = api.reply(path, query)
            data = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
