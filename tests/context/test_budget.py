"""Cutting a brief to its token budget keeps its sections consistent with each other."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from headstart.context.models import Brief, Guardrail, LikelyFile
from headstart.context.render import fit_to_budget, render_markdown
from headstart.records import Freshness

FILES = [f"src/module_{name}.py" for name in "abcde"]


def make_brief(max_tokens: int) -> Brief:
    """Five likely files, with guardrails about the fourth and fifth, and one about no file."""
    return Brief(
        id="hsb_0123456789abcdef",
        repo="demo",
        task="rework the module loader",
        generated_at=datetime(2026, 12, 1, tzinfo=UTC),
        freshness=Freshness(),
        likely_files=[
            LikelyFile(path=path, score=1.0, reasons=["named in the task"]) for path in FILES
        ],
        related=[],
        fixes_and_reverts=[],
        co_changes=[],
        guardrails=[
            Guardrail(
                kind="test",
                priority="high",
                message="run tests/test_d.py",
                files=["tests/test_d.py", FILES[3]],
            ),
            Guardrail(
                kind="co_change",
                priority="high",
                message="module d changes with a",
                files=[FILES[3], FILES[0]],
            ),
            Guardrail(
                kind="fragile",
                priority="medium",
                message="module e was reverted twice",
                files=[FILES[4]],
            ),
            Guardrail(kind="rule", priority="medium", message="keep the loader lazy", files=[]),
        ],
        max_tokens=max_tokens,
    )


@pytest.mark.parametrize("output", ["markdown", "json"])
def test_budget_cut_drops_guardrails_of_cut_files(output: str) -> None:
    seen_cut = False
    for budget in range(150, 700, 10):
        brief = fit_to_budget(make_brief(budget), output)
        listed = {entry.path for entry in brief.likely_files}
        cut = set(FILES) - listed
        seen_cut = seen_cut or bool(cut)

        for item in brief.guardrails:
            about_cut = bool(cut & set(item.files))
            assert not about_cut or listed & set(item.files), (budget, item.message)
    assert seen_cut


@pytest.mark.parametrize("output", ["markdown", "json"])
def test_budget_cut_keeps_guardrails_naming_listed_file(output: str) -> None:
    full = fit_to_budget(make_brief(10_000), output)
    # The largest budget at which module d is cut, found by trying each one down from the full size.
    for budget in range(full.tokens, 100, -5):
        brief = fit_to_budget(make_brief(budget), output)
        if FILES[3] not in {entry.path for entry in brief.likely_files}:
            break
    messages = [item.message for item in brief.guardrails]

    # The rule went first, at the guardrails' floor of three. Cutting module e took its own
    # guardrail, and cutting module d took its test but not its co-change with module a.
    assert messages == ["module d changes with a"]
    assert brief.omitted["likely_files"] == 2
    assert brief.omitted["guardrails"] == 3


def test_left_out_note_wording() -> None:
    brief = make_brief(1500)
    brief.omitted = {"co_changes": 10, "fixes_and_reverts": 1, "related": 2, "likely_files": 1}

    markdown = render_markdown(brief)

    assert (
        "_Left out to fit 1500 tokens: 10 co-changes, 1 fix or revert, 2 related past changes, "
        "1 likely file._"
    ) in markdown
