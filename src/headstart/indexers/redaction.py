"""Removing secrets from indexed text before it is stored.

Detection uses the regular-expression detectors of `detect-secrets` (AWS, GitHub, GitLab,
Slack, Stripe, JWT, passwords in quoted assignments and others) plus two patterns it lacks:
whole private-key blocks (it matches only the BEGIN line) and passwords in URLs with any
scheme. Its entropy detectors are left out: they flag every commit sha. Each secret becomes
`[REDACTED:<type>]`, with the detector's type name.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache

from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.high_entropy_strings import (
    Base64HighEntropyString,
    HexHighEntropyString,
)
from detect_secrets.plugins.ip_public import IPPublicDetector
from detect_secrets.plugins.keyword import KeywordDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector

from headstart.records import Record

logger = logging.getLogger("headstart.indexers")

# Entropy detectors flag commit shas, and a public IP address is not a secret. Private keys
# are left to _PRIVATE_KEY_BLOCK, so the key's body goes with its BEGIN line.
_LEFT_OUT: tuple[type[BasePlugin], ...] = (
    Base64HighEntropyString,
    HexHighEntropyString,
    IPPublicDetector,
    PrivateKeyDetector,
)

_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r".*?(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|(?=\n[ \t]*\n)|\Z)",
    re.DOTALL,
)
_URL_PASSWORD = re.compile(r"(?P<prefix>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]+:)(?P<password>[^\s@/]+)(?=@)")

# Every detector kept needs one of these on the line: a long run of token characters with a
# digit or capital in it, a credential keyword followed by an assignment, or a URL with a
# user. Other lines are not scanned.
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_+/=\-]{11,}")
_HINT_WORDS = ("pass", "pw", "secret", "key", "token", "contrase", "cloudant")
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_+/=\-]+")
_DIGIT_OR_CAPITAL = re.compile(r"[0-9A-Z]")
_HINT = re.compile(
    r"(?:pass|pwd|pw|secret|key|token|contrase|cloudant)\w*['\"\]]*\s*(?:[:=]|\s\S{20})|://[^\s/@]+@",
    re.IGNORECASE,
)

# Shorter capture groups are token prefixes, not secrets.
_MIN_GROUP_SECRET = 8

PRIVATE_KEY_TYPE = "Private Key"
URL_PASSWORD_TYPE = "Basic Auth Credentials"


@dataclass(frozen=True)
class _Detectors:
    """The `detect-secrets` detectors in use, prepared for scanning many short lines."""

    patterns: tuple[tuple[re.Pattern[str], str], ...]  # (pattern, secret type) of regex detectors
    others: tuple[BasePlugin, ...]  # detectors that validate matches in their own code


@cache
def _detectors() -> _Detectors:
    """Prepare every `detect-secrets` detector that suits commit and pull-request text."""
    # Imported here because it loads every plugin module (about 40 ms), which most commands never need.
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    patterns: list[tuple[re.Pattern[str], str]] = []
    others: list[BasePlugin] = []
    classes = sorted(get_mapping_from_secret_type_to_class().values(), key=lambda plugin: plugin.__name__)
    for plugin_class in classes:
        if plugin_class in _LEFT_OUT:
            continue
        detector = plugin_class()
        if isinstance(detector, RegexBasedDetector) and plugin_class.analyze_string is RegexBasedDetector.analyze_string:
            patterns += [(pattern, detector.secret_type) for pattern in detector.denylist]
        else:
            others.append(detector)
    return _Detectors(patterns=tuple(patterns), others=tuple(others))


def _may_hold_secret(line: str, hinted: bool) -> bool:
    if hinted and _HINT.search(line):
        return True
    return any(_DIGIT_OR_CAPITAL.search(run.group()) for run in _TOKEN_RUN.finditer(line))


def _secret_spans(line: str) -> list[tuple[int, int, str]]:
    """Find (start, end, type) of each secret on one line, overlapping spans merged."""
    detectors = _detectors()
    spans: list[tuple[int, int, str]] = []
    for pattern, kind in detectors.patterns:
        for match in pattern.finditer(line):
            # detect-secrets keeps only the capture group, which for some detectors is the
            # token's prefix ("ghp"). When the group is that short, the whole match is the secret.
            group = match.lastindex or 0
            if group and match.end(group) - match.start(group) < _MIN_GROUP_SECRET:
                group = 0
            spans.append((match.start(group), match.end(group), kind))

    # The keyword detector, the slowest by far, only matches quoted values.
    quoted = any(quote in line for quote in "'\"`")
    for detector in detectors.others:
        if isinstance(detector, KeywordDetector) and not quoted:
            continue
        for secret in set(detector.analyze_string(line)):
            for match in re.finditer(re.escape(secret), line):
                spans.append((match.start(), match.end(), detector.secret_type))

    merged: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(span for span in spans if span[1] > span[0]):
        # Some patterns stop short of the token's end (the JWT one drops the signature).
        tail = _TOKEN_TAIL.match(line, end)
        end = tail.end() if tail else end
        if merged and start < merged[-1][1]:
            previous = merged[-1]
            merged[-1] = (previous[0], max(previous[1], end), previous[2])
        else:
            merged.append((start, end, kind))
    return merged


def redact(text: str) -> str:
    """Return `text` with every secret found replaced by `[REDACTED:<type>]`."""
    if not text:
        return text
    if "PRIVATE KEY" in text:
        text = _PRIVATE_KEY_BLOCK.sub(f"[REDACTED:{PRIVATE_KEY_TYPE}]", text)
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"\g<prefix>[REDACTED:{URL_PASSWORD_TYPE}]", text)

    lower = text.lower()
    # One pass over the whole text, so most lines skip the keyword pattern.
    hinted = "@" in text or any(word in lower for word in _HINT_WORDS)
    lines = text.split("\n")
    changed = False
    for number, line in enumerate(lines):
        if not _may_hold_secret(line, hinted):
            continue
        spans = _secret_spans(line)
        if not spans:
            continue
        # Replace from the right, so earlier offsets stay valid.
        for start, end, kind in reversed(spans):
            line = f"{line[:start]}[REDACTED:{kind}]{line[end:]}"
        lines[number] = line
        changed = True
    return "\n".join(lines) if changed else text


def redact_record(record: Record) -> Record:
    """Redact the title and body of a record in place, and return it."""
    title = redact(record.title)
    body = redact(record.body)
    if title != record.title or body != record.body:
        logger.debug("redacted secrets in %s %s", record.kind.value, record.key)
        record.title = title
        record.body = body
    return record
