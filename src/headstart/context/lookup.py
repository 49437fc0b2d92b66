"""Searching history and listing a file's history, one bounded page at a time."""

from __future__ import annotations

from headstart.context.history import HistoryCache, HistoryView
from headstart.context.models import HistoryItem, HistoryPage
from headstart.records import INVERSE_LINKS, LinkKind, Record
from headstart.store import Store

EXCERPT_CHARS = 300
MAX_PAGE = 50


def _item_from_record(view: HistoryView, record: Record, score: float | None = None) -> HistoryItem:
    links = [f"{link.kind.value} {link.target}" for link in record.links]
    for kind, source_id in view.incoming.get(record.target, []):
        source = view.changes.get(source_id)
        if source is not None:
            links.append(f"{INVERSE_LINKS[LinkKind(kind)].value} {source.kind}:{source.key}")
    excerpt = " ".join(record.body.split())
    files = view.current_files(record.files)
    return HistoryItem(
        kind=record.kind.value,
        key=record.key,
        number=record.number,
        title=record.title,
        date=record.created_at,
        url=record.url,
        authors=record.authors[:3],
        files=files[:8],
        files_total=len(files),
        missing_files=[path for path in files[:8] if not view.exists(path)],
        links=list(dict.fromkeys(links)),
        excerpt=excerpt[:EXCERPT_CHARS] + ("…" if len(excerpt) > EXCERPT_CHARS else ""),
        score=score,
    )


def search_history(
    store: Store,
    cache: HistoryCache,
    repo: str,
    query: str,
    *,
    kind: str | None = None,
    limit: int = 10,
    offset: int = 0,
) -> HistoryPage:
    """Search a repository's records by meaning and words together."""
    limit = max(1, min(limit, MAX_PAGE))
    view = cache.get(repo)
    hits = store.search(query, repo=repo, kinds=[kind] if kind else None, limit=limit + 1, offset=offset)
    items = [_item_from_record(view, hit.record, round(hit.score, 4)) for hit in hits[:limit]]
    return HistoryPage(
        repo=repo,
        query=query,
        items=items,
        offset=offset,
        next_offset=offset + limit if len(hits) > limit else None,
    )


def file_history(
    store: Store,
    cache: HistoryCache,
    repo: str,
    path: str,
    *,
    limit: int = 10,
    offset: int = 0,
) -> HistoryPage:
    """List the commits that changed `path`, newest first, with their fixes and reverts."""
    limit = max(1, min(limit, MAX_PAGE))
    view = cache.get(repo)
    # An old name of a renamed file gets the file's whole history, under its name at the head.
    path = view.current_files([path.replace("\\", "/").removeprefix("./")])[0]
    changes = view.commits_touching(path)
    page = changes[offset : offset + limit]

    items: list[HistoryItem] = []
    for change in page:
        record = store.get(repo, change.kind, change.key)
        if record is not None:
            items.append(_item_from_record(view, record))
    return HistoryPage(
        repo=repo,
        path=path,
        path_exists=view.exists(path),
        items=items,
        offset=offset,
        next_offset=offset + limit if offset + limit < len(changes) else None,
        total=len(changes),
    )
