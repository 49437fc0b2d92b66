"""Token budgets for tool results, so no single result swamps an agent's context window.

A history page that does not fit its budget keeps its first items and points `next_offset` at
the first item it left out, so the agent can page on without missing anything.
"""

from __future__ import annotations

from headstart.context.models import HistoryPage
from headstart.context.tokens import count_tokens

# Budgets in tokens (o200k_base). Claude Code rejects an MCP result over 25,000 tokens unless
# MAX_MCP_OUTPUT_TOKENS raises it, and a result travels twice (as text and as structured content),
# so the largest budget stays well below half of that.
DEFAULT_PAGE_TOKENS = 3000
MIN_PAGE_TOKENS = 500
MAX_PAGE_TOKENS = 8000
MAX_BRIEF_TOKENS = 8000

# A lone item that is over budget by itself is cut to these sizes rather than dropped, so a
# page always moves the offset forward.
_SHORT_TITLE_CHARS = 200


def page_text(page: HistoryPage) -> str:
    """Render a page as the compact JSON the agent reads."""
    return page.model_dump_json(exclude_none=True)


def fit_page(page: HistoryPage, max_tokens: int) -> HistoryPage:
    """Drop items from the end of `page` until its JSON fits `max_tokens`; keep at least one."""
    if count_tokens(page_text(page)) <= max_tokens:
        return page

    # Binary search for the longest prefix that fits, but keep at least one item.
    low, high = 1, len(page.items)
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(page, middle, max_tokens):
            low = middle
        else:
            high = middle - 1
    items = page.items[:low]

    if (
        len(items) == 1
        and count_tokens(page_text(page.model_copy(update={"items": items}))) > max_tokens
    ):
        only = items[0]
        title = (
            only.title
            if len(only.title) <= _SHORT_TITLE_CHARS
            else only.title[: _SHORT_TITLE_CHARS - 1] + "…"
        )
        items = [only.model_copy(update={"excerpt": "", "title": title, "links": only.links[:4]})]

    dropped = len(page.items) - len(items)
    next_offset = page.offset + len(items) if dropped else page.next_offset
    return page.model_copy(update={"items": items, "next_offset": next_offset})


def _fits(page: HistoryPage, count: int, max_tokens: int) -> bool:
    return (
        count_tokens(page_text(page.model_copy(update={"items": page.items[:count]}))) <= max_tokens
    )
