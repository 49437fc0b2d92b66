"""OTLP/HTTP receiver for coding agents' telemetry, and the endpoint that takes pushed usage.

Routes, all POST, all behind `Settings.api_token` when one is set (sent as
`Authorization: Bearer TOKEN` or as `x-headstart-token: TOKEN`):

- `/v1/logs`: an OTLP logs export; its usage events go into the ledger.
- `/v1/metrics`: an OTLP metrics export; its token and cost counters go into the cross-check.
- `/v1/traces`: accepted and discarded, so an agent that also exports traces gets no errors.
- `/v1/ledger/events`: a JSON list of `UsageEvent`s that another Headstart pushes, so a team
  can combine what each engineer ingested locally.

OTLP requests are protobuf (`application/x-protobuf`) or OTLP/JSON (`application/json`),
optionally gzip-compressed. Responses follow the OTLP/HTTP specification:

- 200, with a `partial_success` that counts the rejected records;
- 400 for a body that does not decode, 413 for a body over the size limit, 415 for another
  media type or content encoding;
- 503 when the ledger cannot be written. Exporters retry it, which is safe because every write
  is idempotent.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from headstart.config import Settings
from headstart.ledger.crosscheck import CrossCheckReport, record_points
from headstart.ledger.db import Ledger
from headstart.ledger.errors import LedgerError, LedgerInputError
from headstart.ledger.events import UsageEvent
from headstart.ledger.ingest import record_events
from headstart.ledger.otlp import (
    JSON,
    MAX_EXAMPLES,
    PROTOBUF,
    CounterPoint,
    OtlpDecodeError,
    SkippedRecord,
    decode_logs_request,
    decode_metrics_request,
    parse_logs,
    parse_metrics,
)
from headstart.ledger.pricing import PriceBook
from headstart.ledger.report import IngestReport
from headstart.ledger.teams import TeamMap
from headstart.metrics import ERRORS, USAGE_EVENTS

logger = logging.getLogger("headstart.server.otlp")

LedgerProvider = Callable[[], Ledger]

TOKEN_HEADER = "x-headstart-token"

# google.rpc.Code values that the OTLP/HTTP specification puts in a Status body.
_INVALID_ARGUMENT = 3
_RESOURCE_EXHAUSTED = 8
_UNAVAILABLE = 14

_WARNING_INTERVAL_SECONDS = 60.0


class PushResponse(BaseModel):
    """Counts and first rejection reasons from one push of usage events."""

    received: int
    accepted: int
    rejected: int
    examples: list[str] = Field(default_factory=list, description="The first rejected items.")
    ingest: IngestReport


class _Problem(Exception):
    """An error status, and the OTLP Status body that explains it to the exporter."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _varint(value: int) -> bytes:
    encoded = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            encoded.append(byte | 0x80)
        else:
            encoded.append(byte)
            return bytes(encoded)


def _status_body(code: int, message: str, content_type: str) -> bytes:
    """Encode a google.rpc.Status without depending on googleapis-common-protos."""
    if content_type == PROTOBUF:
        text = message.encode("utf-8")
        # Field 1 (code) is a varint, field 2 (message) a length-delimited string.
        return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
    return json.dumps({"code": code, "message": message}).encode("utf-8")


def _problem_response(problem: _Problem, content_type: str) -> Response:
    media_type = content_type if content_type in (PROTOBUF, JSON) else JSON
    return Response(
        _status_body(problem.code, problem.message, media_type),
        status_code=problem.status,
        media_type=media_type,
    )


def _message_response(message: Message, content_type: str) -> Response:
    if content_type == PROTOBUF:
        return Response(message.SerializeToString(), media_type=PROTOBUF)
    return Response(json.dumps(json_format.MessageToDict(message)), media_type=JSON)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _require_media_type(request: Request, accepted: tuple[str, ...]) -> str:
    media_type = _media_type(request)
    if media_type not in accepted:
        raise _Problem(
            415,
            _INVALID_ARGUMENT,
            f"unsupported Content-Type {media_type or '(none)'!r}: use {' or '.join(accepted)}",
        )
    return media_type


def _gunzip(body: bytes, limit: int) -> bytes:
    """Decompress gzip without ever holding more than `limit` bytes of output."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise _Problem(400, _INVALID_ARGUMENT, f"invalid gzip body: {exc}") from exc
    if len(data) > limit or decompressor.unconsumed_tail:
        raise _Problem(413, _RESOURCE_EXHAUSTED, f"decompressed body exceeds {limit} bytes")
    if not decompressor.eof:
        raise _Problem(400, _INVALID_ARGUMENT, "invalid gzip body: truncated stream")
    return data


async def _read_body(request: Request, limit: int) -> bytes:
    """Read the body, stopping as soon as it passes `limit`, and undo gzip Content-Encoding."""
    too_large = _Problem(413, _RESOURCE_EXHAUSTED, f"request body exceeds {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large

    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    body = b"".join(chunks)

    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        return _gunzip(body, limit)
    if encoding in ("", "identity"):
        return body
    raise _Problem(
        415, _INVALID_ARGUMENT, f"unsupported Content-Encoding {encoding!r}: use gzip or none"
    )


def _client(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "unknown client"


def _summary(examples: list[SkippedRecord]) -> str:
    return "; ".join(
        f"{item.location} ({item.name or 'unnamed'}): {item.reason}" for item in examples
    )


class _ThrottledWarnings:
    """Log at most one warning a minute per key, with the count of warnings held back since."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def warn(self, key: str, message: str, *args: Any, exc_info: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, float("-inf")) < _WARNING_INTERVAL_SECONDS:
                self._held[key] = self._held.get(key, 0) + 1
                return
            self._last[key] = now
            held = self._held.pop(key, 0)
        logger.warning(message + " (%d similar warnings held back)", *args, held, exc_info=exc_info)


class _Receiver:
    """The route handlers, sharing settings, the ledger and the price and team tables."""

    def __init__(
        self, settings: Settings, ledger_provider: LedgerProvider, max_body_bytes: int
    ) -> None:
        self.settings = settings
        self.ledger_provider = ledger_provider
        self.max_body_bytes = max_body_bytes
        self.warnings = _ThrottledWarnings()
        self._prices: PriceBook | None = None
        self._teams: TeamMap | None = None

    def _record_events(self, events: list[UsageEvent]) -> IngestReport:
        # Loaded on first use, so a bad prices or teams file fails requests, not start-up.
        if self._prices is None or self._teams is None:
            self._prices = PriceBook(self.settings.prices_file)
            self._teams = TeamMap.load(self.settings.teams_file)
        report = record_events(self.ledger_provider(), events, prices=self._prices, teams=self._teams)
        # Counted here, not in record_events: importing prometheus_client took 60 ms of every
        # `headstart ledger ingest`, a process that exposes no metrics.
        USAGE_EVENTS.inc(report.events)
        return report

    def _record_points(self, points: list[CounterPoint]) -> CrossCheckReport:
        # The cross-check tables come with the ledger's migrations (revision 0002).
        ledger = self.ledger_provider()
        with ledger.session() as session:
            return record_points(session, points)

    async def _write(self, route: str, function: Callable[..., Any], *args: Any) -> Any:
        """Run a ledger write off the event loop; a failing ledger becomes a retryable 503."""
        try:
            return await run_in_threadpool(function, *args)
        except (LedgerError, LedgerInputError, SQLAlchemyError) as exc:
            ERRORS.labels("ledger").inc()
            # A bad prices or teams file is fixed on the server, so it is retryable too.
            self.warnings.warn(
                f"{route}:503", "%s failed to write to the ledger", route, exc_info=True
            )
            raise _Problem(
                503, _UNAVAILABLE, f"the ledger cannot be written, retry later: {exc}"
            ) from exc

    def _problem_response(
        self, route: str, request: Request, problem: _Problem, content_type: str
    ) -> Response:
        if problem.status != 503:
            self.warnings.warn(
                f"{route}:{problem.status}",
                "%s from %s returned %d: %s",
                route,
                _client(request),
                problem.status,
                problem.message,
            )
        return _problem_response(problem, content_type)

    def _warn_rejected(
        self, route: str, request: Request, rejected: int, examples: list[SkippedRecord]
    ) -> None:
        self.warnings.warn(
            f"{route}:rejected",
            "%s from %s rejected %d record(s); first: %s",
            route,
            _client(request),
            rejected,
            _summary(examples),
        )

    async def export_logs(self, request: Request) -> Response:
        content_type = _media_type(request)
        try:
            content_type = _require_media_type(request, (PROTOBUF, JSON))
            body = await _read_body(request, self.max_body_bytes)
            result = parse_logs(decode_logs_request(body, content_type))
            if result.events:
                report = await self._write("/v1/logs", self._record_events, result.events)
                logger.debug("/v1/logs: %d event(s), %s", len(result.events), report)
        except OtlpDecodeError as exc:
            problem = _Problem(400, _INVALID_ARGUMENT, str(exc))
            return self._problem_response("/v1/logs", request, problem, content_type)
        except _Problem as problem:
            return self._problem_response("/v1/logs", request, problem, content_type)

        response = ExportLogsServiceResponse()
        if result.rejected:
            self._warn_rejected("/v1/logs", request, result.rejected, result.examples)
            response.partial_success.rejected_log_records = result.rejected
            response.partial_success.error_message = _summary(result.examples)
        return _message_response(response, content_type)

    async def export_metrics(self, request: Request) -> Response:
        content_type = _media_type(request)
        try:
            content_type = _require_media_type(request, (PROTOBUF, JSON))
            body = await _read_body(request, self.max_body_bytes)
            result = parse_metrics(decode_metrics_request(body, content_type))
            if result.points:
                report = await self._write("/v1/metrics", self._record_points, result.points)
                logger.debug("/v1/metrics: %d point(s), %s", len(result.points), report)
        except OtlpDecodeError as exc:
            problem = _Problem(400, _INVALID_ARGUMENT, str(exc))
            return self._problem_response("/v1/metrics", request, problem, content_type)
        except _Problem as problem:
            return self._problem_response("/v1/metrics", request, problem, content_type)

        response = ExportMetricsServiceResponse()
        if result.rejected:
            self._warn_rejected("/v1/metrics", request, result.rejected, result.examples)
            response.partial_success.rejected_data_points = result.rejected
            response.partial_success.error_message = _summary(result.examples)
        return _message_response(response, content_type)

    async def export_traces(self, request: Request) -> Response:
        content_type = _media_type(request)
        try:
            content_type = _require_media_type(request, (PROTOBUF, JSON))
            await _read_body(request, self.max_body_bytes)
        except _Problem as problem:
            return self._problem_response("/v1/traces", request, problem, content_type)
        return _message_response(ExportTraceServiceResponse(), content_type)

    async def push_events(self, request: Request) -> Response:
        try:
            _require_media_type(request, (JSON,))
            body = await _read_body(request, self.max_body_bytes)
            try:
                items = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise _Problem(400, _INVALID_ARGUMENT, f"invalid JSON: {exc}") from exc
            if not isinstance(items, list):
                raise _Problem(
                    400,
                    _INVALID_ARGUMENT,
                    f"expected a JSON list of usage events, found {type(items).__name__}",
                )

            events, examples = _validate_events(items)
            report = IngestReport()
            if events:
                report = await self._write("/v1/ledger/events", self._record_events, events)
        except _Problem as problem:
            return self._problem_response("/v1/ledger/events", request, problem, JSON)

        rejected = len(items) - len(events)
        if rejected:
            logger.warning(
                "/v1/ledger/events from %s rejected %d of %d event(s); first: %s",
                _client(request),
                rejected,
                len(items),
                examples[0],
            )
        pushed = PushResponse(
            received=len(items),
            accepted=len(events),
            rejected=rejected,
            examples=examples,
            ingest=report,
        )
        return JSONResponse(pushed.model_dump(mode="json"))


def _validate_events(items: list[Any]) -> tuple[list[UsageEvent], list[str]]:
    """Validate each pushed item on its own, so one bad item does not cost the others."""
    events: list[UsageEvent] = []
    examples: list[str] = []
    for index, item in enumerate(items):
        try:
            events.append(UsageEvent.model_validate(item))
        except ValidationError as exc:
            if len(examples) < MAX_EXAMPLES:
                problems = "; ".join(
                    f"{'.'.join(str(part) for part in error['loc']) or 'item'}: {error['msg']}"
                    for error in exc.errors()
                )
                examples.append(f"[{index}] {problems}")
    return events, examples


def _bearer_token(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _token_check(settings: Settings) -> Callable[[Request], None]:
    def require_token(request: Request) -> None:
        expected = settings.api_token
        if not expected:
            return

        offered = request.headers.get(TOKEN_HEADER) or _bearer_token(
            request.headers.get("authorization", "")
        )
        if offered and hmac.compare_digest(offered.encode("utf-8"), expected.encode("utf-8")):
            return
        raise HTTPException(
            status_code=401,
            detail=(
                "missing or invalid token: send 'Authorization: Bearer TOKEN' or "
                f"'{TOKEN_HEADER}: TOKEN' with the server's api_token"
            ),
            headers={"WWW-Authenticate": "Bearer"},
        )

    return require_token


def build_otlp_router(
    settings: Settings,
    ledger_provider: LedgerProvider,
    *,
    max_body_bytes: int | None = None,
) -> APIRouter:
    """Build the OTLP receiver and push routes; `ledger_provider` returns the open ledger.

    Bodies may be up to `max_body_bytes` (default: `Settings.max_body_bytes`) after decompression.
    Agents export every few seconds, so real batches are far smaller; the limit only stops a
    runaway or hostile client.
    """
    receiver = _Receiver(settings, ledger_provider, max_body_bytes or settings.max_body_bytes)
    router = APIRouter(tags=["telemetry"], dependencies=[Depends(_token_check(settings))])

    router.add_api_route(
        "/v1/logs", receiver.export_logs, methods=["POST"], summary="Receive OTLP logs"
    )
    router.add_api_route(
        "/v1/metrics", receiver.export_metrics, methods=["POST"], summary="Receive OTLP metrics"
    )
    router.add_api_route(
        "/v1/traces",
        receiver.export_traces,
        methods=["POST"],
        summary="Accept and drop OTLP traces",
    )
    router.add_api_route(
        "/v1/ledger/events",
        receiver.push_events,
        methods=["POST"],
        summary="Receive pushed usage events",
    )
    return router
