"""Build `UsageEvent`s from values that already have their fields' types, without validation.

Readers produce tens of thousands of events per ingest. `UsageEvent.model_construct` walks
every field and its aliases on each call, which took a tenth of the reader's time on the
benchmark tree. `build_event` does only what `model_construct` ends with, for a dict that contains
every field, so the result is the same object (tests/ledger/test_ingest_parallel.py checks it).
"""

from __future__ import annotations

from typing import Any

from headstart.ledger.events import UsageEvent

FIELD_NAMES = frozenset(UsageEvent.model_fields)
_set = object.__setattr__


def build_event(fields: dict[str, Any], fields_set: set[str] | None = None) -> UsageEvent:
    """Return a `UsageEvent` whose attributes are `fields`, which must name every field once.

    `fields` becomes the event's `__dict__`, so the caller must not change it afterwards.
    """
    if len(fields) != len(FIELD_NAMES) or not fields.keys() >= FIELD_NAMES:
        missing = sorted(FIELD_NAMES - fields.keys())
        unknown = sorted(fields.keys() - FIELD_NAMES)
        raise ValueError(
            f"cannot build a UsageEvent: missing fields {missing}, unknown fields {unknown}; "
            "give every field of UsageEvent"
        )
    return rebuild_event(fields, fields_set)


def rebuild_event(fields: dict[str, Any], fields_set: set[str] | None = None) -> UsageEvent:
    """Rebuild an event from its `event_parts`, without the checks of `build_event`."""
    event = UsageEvent.__new__(UsageEvent)
    _set(event, "__dict__", fields)
    _set(event, "__pydantic_fields_set__", set(fields) if fields_set is None else fields_set)
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event


def event_parts(event: UsageEvent) -> tuple[dict[str, Any], set[str] | None]:
    """Return what `build_event` needs to rebuild `event`: cheap to pickle, unlike the model.

    The set of fields given explicitly is None when it is all of them, as for every event the
    Claude Code reader builds, so it is not pickled once per event.
    """
    fields_set = event.model_fields_set
    return event.__dict__, None if len(fields_set) == len(FIELD_NAMES) else fields_set
