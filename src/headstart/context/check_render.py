"""Rendering a check result as text, JSON or SARIF 2.1.0."""

from __future__ import annotations

import json

from headstart import __version__
from headstart.context.models import CheckResult, Guardrail
from headstart.text import counted

_SECTIONS = (
    ("missing_co_changes", "Files that usually change with these but are not in the change"),
    ("tests_to_run", "Tests to run"),
    ("fragile", "Fragile areas touched"),
    ("known_issues", "Known bugs and reviewers' comments on these files"),
    ("rules", "Rules that apply"),
    ("owners", "Owners"),
)
# Only a co-changed file the change leaves out is unmet. The other sections are advice, so a
# code-scanning upload shows them as notes whatever their priority.
_UNMET_SECTION = "missing_co_changes"
_SARIF_LEVEL = {"high": "error", "medium": "warning", "low": "note"}


def render_check_text(result: CheckResult) -> str:
    lines = [f"headstart check: {counted(len(result.changed_files), 'changed file')} in {result.repo}", f"({result.notice})"]
    for field, heading in _SECTIONS:
        items: list[Guardrail] = getattr(result, field)
        if not items:
            continue
        lines += ["", f"{heading}:"]
        for item in items:
            lines.append(f"  [{item.priority}] {item.message} (evidence: {', '.join(item.evidence[:4])})")
            if item.quote:
                lines += ["    > " + line for line in item.quote.splitlines()[:6]]
    if result.next_offset is not None:
        lines += ["", f"More items: run again with --offset {result.next_offset}."]
    count = result.unmet_high_priority
    # Only a left-out co-change can be seen in a change; tests and the rest are advice.
    lines += ["", f"{count} high-priority co-change{'' if count == 1 else 's'} left out of this change."]
    return "\n".join(lines) + "\n"


def render_check_json(result: CheckResult) -> str:
    return result.model_dump_json(indent=2) + "\n"


def render_check_sarif(result: CheckResult) -> str:
    """Build a SARIF log with one rule per guardrail kind, for code-scanning uploads."""
    results = []
    kinds: dict[str, None] = {}
    for field, _ in _SECTIONS:
        for item in getattr(result, field):
            kinds.setdefault(item.kind, None)
            results.append(
                {
                    "ruleId": f"headstart/{item.kind}",
                    "level": _SARIF_LEVEL[item.priority] if field == _UNMET_SECTION else "note",
                    "message": {"text": item.message + (f"\n{item.quote}" if item.quote else "")},
                    "locations": [
                        {"physicalLocation": {"artifactLocation": {"uri": path}}} for path in item.files[:1]
                    ],
                    "properties": {"evidence": item.evidence, "priority": item.priority},
                }
            )
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "headstart",
                        "version": __version__,
                        "rules": [
                            {"id": f"headstart/{kind}", "shortDescription": {"text": f"history guardrail: {kind}"}}
                            for kind in kinds
                        ],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


RENDERERS = {"text": render_check_text, "json": render_check_json, "sarif": render_check_sarif}
