"""Rendering a brief as Markdown or JSON, cut down to its token budget."""

from __future__ import annotations

from headstart.context.models import Brief
from headstart.context.tokens import count_tokens
from headstart.text import counted

# When a brief is over budget, items are cut from the first section in this list that is still
# above its floor. Similar changes go first, then the likely files after the first ten, then the
# rest evenly, and the first ten likely files last. So a brief at the default budget keeps a few
# fixes, reverts and co-changes, which a list of 15 likely files with their reasons used up. The
# last entries give up the floors, so only a budget below the header and one file is exceeded.
_CUT_ORDER = (
    ("guardrails", 8),
    ("related", 5),
    ("fixes_and_reverts", 3),
    ("co_changes", 3),
    ("related", 2),
    ("likely_files", 10),
    ("guardrails", 5),
    ("fixes_and_reverts", 2),
    ("co_changes", 2),
    ("guardrails", 3),
    ("related", 1),
    ("fixes_and_reverts", 0),
    ("co_changes", 0),
    ("likely_files", 3),
    ("guardrails", 0),
    ("related", 0),
    ("likely_files", 1),
)


# Singular and plural nouns, by section field, for the note on the items left out.
_SECTION_NOUNS: dict[str, tuple[str, str | None]] = {
    "likely_files": ("likely file", None),
    "guardrails": ("guardrail", None),
    "related": ("related past change", None),
    "fixes_and_reverts": ("fix or revert", "fixes and reverts"),
    "co_changes": ("co-change", None),
}


def quote_data(text: str, limit: int = 160) -> str:
    """Quote text taken from history as one inert line, so it reads as data, not as markup."""
    line = " ".join(text.split())
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return '"' + line.replace("\\", "\\\\").replace('"', '\\"').replace("`", "'") + '"'


def render_markdown(brief: Brief) -> str:
    lines = [f"# Headstart brief: {quote_data(brief.task, 200)}", ""]
    head = brief.freshness.indexed_head
    lines.append(
        f"Brief `{brief.id}` for `{brief.repo}`"
        + (f", index at `{head[:10]}`" if head else "")
        + f", {brief.generated_at:%Y-%m-%d %H:%M} UTC."
    )
    if brief.freshness.stale and brief.freshness.message:
        lines += ["", f"**Index is stale:** {brief.freshness.message}"]
    lines += ["", f"_{brief.notice}_", ""]

    lines.append("## Likely files")
    if not brief.likely_files:
        lines.append("No file stood out; the history holds nothing similar enough.")
    for number, item in enumerate(brief.likely_files, 1):
        lines.append(f"{number}. `{item.path}` ({item.score:.2f}): " + "; ".join(item.reasons))

    if brief.guardrails:
        lines += ["", "## Guardrails"]
        for item in brief.guardrails:
            lines.append(f"- [{item.priority}] {item.message} (evidence: {', '.join(item.evidence[:4])})")
            if item.quote:
                quoted = "\n".join("  > " + line for line in item.quote.splitlines()[:8])
                lines.append(quoted)

    if brief.related:
        lines += ["", "## Related past changes"]
        for change in brief.related:
            label = f"PR {change.key}" if change.kind == "pull_request" else f"commit {change.key[:10]}"
            landed = f", merged as {change.sha[:10]}" if change.kind == "pull_request" and change.sha else ""
            lines.append(
                f"- {label} {quote_data(change.title)} ({change.date:%Y-%m-%d}{landed}): " + "; ".join(change.why)
            )
            if change.files:
                lines.append("  files: " + _files(change.files, change.missing_files))

    if brief.fixes_and_reverts:
        lines += ["", "## Fixes and reverts that touched these files"]
        for item in brief.fixes_and_reverts:
            target = f" of {item.target}" if item.target else ""
            lines.append(f"- {item.kind}{target}: commit {item.sha[:10]} {quote_data(item.title)} ({item.date:%Y-%m-%d})")
            lines.append("  files: " + _files(item.files, item.missing_files))

    if brief.co_changes:
        lines += ["", "## Files that change together"]
        for pair in brief.co_changes:
            lines.append(
                f"- `{pair.path}` and `{pair.with_path}`: together in {pair.together} "
                f"of {counted(pair.total, 'commit')} ({pair.confidence:.0%})"
            )

    if brief.omitted:
        left = ", ".join(_omitted(section, count) for section, count in brief.omitted.items())
        lines += ["", f"_Left out to fit {brief.max_tokens} tokens: {left}._"]
    return "\n".join(lines) + "\n"


def _omitted(section: str, count: int) -> str:
    """Name what was left out of a section in words: "1 co-change", "2 fixes and reverts"."""
    noun, plural = _SECTION_NOUNS.get(section, (section.replace("_", " "), None))
    return counted(count, noun, plural)


def _files(paths: list[str], missing: list[str]) -> str:
    return ", ".join(f"`{path}`" + (" (no longer exists)" if path in missing else "") for path in paths)


def render_json(brief: Brief) -> str:
    # Compact: agents read it, and indentation would spend about a third of the budget on spaces.
    return brief.model_dump_json()


def render(brief: Brief, output: str) -> str:
    return render_json(brief) if output == "json" else render_markdown(brief)


# The maximum tokens `hsb_` and 16 hex digits can take in o200k_base: one per character.
MAX_ID_TOKENS = 20


def fit_to_budget(brief: Brief, output: str = "markdown") -> Brief:
    """Drop the lowest-priority items until the rendered brief fits `brief.max_tokens`.

    Tokenizing the whole brief after every cut is the slow part. So items are cut against an
    estimate of their size, and the brief is counted exactly only after each round of cuts.
    """
    # A brief's id is random, and took from 8 to 17 tokens over 2,000 draws. Cutting as if it took
    # the maximum keeps the same items for the same task and history, whatever id the brief drew.
    slack = MAX_ID_TOKENS - count_tokens(brief.id)
    while True:
        brief.tokens = _settled_count(brief, output)
        if brief.tokens + slack <= brief.max_tokens:
            return brief
        excess = brief.tokens + slack - brief.max_tokens
        cut_any = False
        while excess > 0:
            item = _cut_one(brief)
            if item is None:
                break
            cut_any = True
            excess -= _estimated_tokens(item, output)
        if not cut_any:
            return brief  # already at every floor; report the true size rather than cut more


def _estimated_tokens(item, output: str) -> int:
    """Tokens an item adds to the rendered brief, counted closely enough to stop cutting in time."""
    text = item.model_dump_json()
    if output == "json":
        # The item's own compact JSON is what the brief holds, so its count is nearly exact.
        return max(1, count_tokens(text))
    # Markdown renders an item in fewer characters than its JSON; a quarter of them is close.
    return max(1, len(text) // 4)


def _settled_count(brief: Brief, output: str) -> int:
    """Count the rendered brief's tokens; JSON includes the count itself, so count until it holds."""
    for _ in range(4):
        counted = count_tokens(render(brief, output))
        if counted == brief.tokens:
            break
        brief.tokens = counted
    return brief.tokens


def _cut_one(brief: Brief):
    for section, floor in _CUT_ORDER:
        items = getattr(brief, section)
        if len(items) > floor:
            brief.omitted[section] = brief.omitted.get(section, 0) + 1
            item = items.pop()
            if section == "likely_files":
                _drop_guardrails_about(brief, item.path)
            return item
    return None


def _drop_guardrails_about(brief: Brief, path: str) -> None:
    """Drop the guardrails about a likely file that was cut, unless they name a file still listed.

    A co-change between the cut file and a listed one stays, because it still applies.
    """
    listed = {entry.path for entry in brief.likely_files}
    kept = [item for item in brief.guardrails if path not in item.files or listed & set(item.files)]
    dropped = len(brief.guardrails) - len(kept)
    if dropped:
        brief.guardrails = kept
        brief.omitted["guardrails"] = brief.omitted.get("guardrails", 0) + dropped
