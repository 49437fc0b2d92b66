"""Prometheus metrics that any part of Headstart can update, served by the HTTP server at /metrics.

The objects live in the default `prometheus_client` registry of the process. Each server
process counts its own requests: a scraper reads every replica on its own and sums them (see
docs/deployment.md). The figures that describe shared state, the ingest lag and the age of each
repository's index, are read from the ledger and the store when /metrics is scraped, so every
replica reports the same values for them.

This module imports nothing from the rest of Headstart, so indexers and the ledger can count
their work without importing the server.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# The `_created` series double every counter's lines and no dashboard here reads them.
disable_created_metrics()

# Briefs take from milliseconds (a warm cache) to tens of seconds (a catch-up index first).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

HTTP_REQUESTS = Counter(
    "headstart_http_requests",
    "HTTP requests answered, by route, method and status code.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "headstart_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route, method and status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge(
    "headstart_http_requests_in_flight",
    "Requests this process is handling now, queued ones included.",
)
HTTP_REJECTED = Counter(
    "headstart_http_requests_rejected",
    "Requests refused by a limit: body_too_large (413) or busy (503).",
    ["reason"],
)
BRIEFS_SERVED = Counter(
    "headstart_briefs_served",
    "Briefs built for agents and engineers, over MCP and REST, by output format.",
    ["format"],
)
RECORDS_INDEXED = Counter(
    "headstart_records_indexed",
    "Commit and pull request records this process embedded and wrote to the store.",
)
USAGE_EVENTS = Counter(
    "headstart_usage_events_ingested",
    "Usage events this process wrote to the ledger: new, more complete or already there.",
)
ERRORS = Counter(
    "headstart_errors",
    "Failures, by component: http (a 5xx answer), ledger (a write that failed), readiness.",
    ["component"],
)
