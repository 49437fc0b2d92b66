"""Token budgets of history pages: cut at the end, continue with next_offset."""

from __future__ import annotations

from datetime import UTC, datetime

from headstart.context.models import HistoryItem, HistoryPage
from headstart.context.tokens import count_tokens
from headstart.server.budget import fit_page, page_text


def item(number: int, excerpt: str = "", title: str | None = None) -> HistoryItem:
    return HistoryItem(
        kind="commit",
        key=f"{number:040x}",
        title=title or f"Change number {number}",
        date=datetime(2024, 1, 1, tzinfo=UTC),
        files=[f"src/module_{number}.py"],
        files_total=1,
        excerpt=excerpt,
    )


def page(
    count: int, *, offset: int = 0, next_offset: int | None = None, excerpt: str = ""
) -> HistoryPage:
    return HistoryPage(
        repo="demo",
        query="change",
        items=[item(offset + index, excerpt) for index in range(count)],
        offset=offset,
        next_offset=next_offset,
    )


def test_fit_page_within_budget() -> None:
    small = page(3, next_offset=3)

    assert fit_page(small, 3000) == small


def test_fit_page_cuts_and_continues() -> None:
    busy = page(20, offset=40, next_offset=60, excerpt="word " * 60)

    fitted = fit_page(busy, 1000)

    assert count_tokens(page_text(fitted)) <= 1000
    assert 1 <= len(fitted.items) < 20
    assert fitted.items == busy.items[: len(fitted.items)]
    assert fitted.next_offset == 40 + len(fitted.items)


def test_fit_page_longest_prefix() -> None:
    busy = page(20, excerpt="word " * 60)

    fitted = fit_page(busy, 1000)
    one_more = busy.model_copy(update={"items": busy.items[: len(fitted.items) + 1]})

    assert count_tokens(page_text(one_more)) > 1000


def test_fit_page_last_page_cut() -> None:
    """A cut last page still points at the items it left out."""
    last = page(10, offset=5, next_offset=None, excerpt="word " * 80)

    fitted = fit_page(last, 800)

    assert fitted.next_offset == 5 + len(fitted.items)


def test_fit_page_one_huge_item() -> None:
    huge = HistoryPage(
        repo="demo",
        items=[item(1, excerpt="x " * 3000, title="t" * 5000), item(2)],
        offset=0,
        next_offset=None,
    )

    fitted = fit_page(huge, 500)

    assert len(fitted.items) == 1
    assert count_tokens(page_text(fitted)) <= 500
    assert fitted.items[0].key == huge.items[0].key
    assert fitted.next_offset == 1
