"""Cutting a brief to its token budget keeps its sections consistent with each other."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from headstart.context.models import (
    Brief,
    CoChange,
    FixOrRevert,
    Guardrail,
    LikelyFile,
    RelatedChange,
)
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


def full_brief() -> Brief:
    """A brief as long as one of a busy repository: every section far over the default budget."""
    reasons = [
        "changed by 4 of the 30 most similar past changes (commit abe8aa55c0, commit 35e5ecd492)",
        "changed with src/walk.rs in 84 of its 190 commits",
        "its path and past commit messages match the task (2nd best of all files)",
    ]
    when = datetime(2026, 11, 1, tzinfo=UTC)
    return Brief(
        id="hsb_0123456789abcdef",
        repo="demo",
        task="make the size filter accept lowercase units",
        generated_at=datetime(2026, 12, 1, tzinfo=UTC),
        freshness=Freshness(),
        likely_files=[
            LikelyFile(path=f"src/filter/module_{n}.rs", score=1.0, reasons=reasons)
            for n in range(15)
        ],
        related=[
            RelatedChange(
                kind="commit",
                key=f"{n:040x}",
                title=f"Parse sizes with units, take {n}",
                date=when,
                why=["the most similar past change to the task, by words and meaning"],
                files=["src/filter/module_0.rs"],
            )
            for n in range(10)
        ],
        fixes_and_reverts=[
            FixOrRevert(
                kind="fix",
                sha=f"{n:040x}",
                title=f"Fix size parsing of case {n}",
                date=when,
                files=["src/filter/module_0.rs"],
                target=f"issue:#{n}",
            )
            for n in range(10)
        ],
        co_changes=[
            CoChange(
                path="src/filter/module_0.rs",
                with_path=f"tests/test_{n}.rs",
                together=9,
                total=11,
                confidence=0.82,
            )
            for n in range(10)
        ],
        guardrails=[
            Guardrail(
                kind="fragile",
                priority="high",
                message=f"`src/filter/module_{n}.rs` had {n + 3} bug-fix commits",
                files=[f"src/filter/module_{n}.rs"],
            )
            for n in range(10)
        ],
        max_tokens=1500,
    )


@pytest.mark.parametrize("output", ["markdown", "json"])
def test_default_budget_keeps_fixes_and_co_changes(output: str) -> None:
    brief = fit_to_budget(full_brief(), output)

    assert brief.tokens <= 1500
    assert len(brief.likely_files) >= 10
    assert len(brief.fixes_and_reverts) >= 1
    assert len(brief.co_changes) >= 1
