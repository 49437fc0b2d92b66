"""Leases in the store, so that one job at a time indexes a repository.

Records are safe under concurrent writers by themselves, because they are upserts on a primary
key. But an index run also keeps derived per-file counts, which it updates by adding to what it
read, so two runs of one repository at once would count the same commits twice. A lease is a row in the
`leases` table naming its owner and when it expires. Taking it is one conditional upsert that
Lance commits atomically, so of several jobs racing for a free lease exactly one wins. The
holder renews the lease as it works; a job that dies leaves a lease that expires, or that a
later job on the same host takes over at once when the owning process is gone.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

import pyarrow as pa

from headstart.errors import StoreError
from headstart.store import filters
from headstart.store.tables import open_table, strict_keys

logger = logging.getLogger("headstart.store.leases")

LEASES_TABLE = "leases"
# The default life of an index job's lease; it is renewed every batch, so it only has to outlast one.
LEASE_SECONDS = 600.0
LEASES_SCHEMA = strict_keys(
    pa.schema(
        [
            ("name", pa.string()),
            ("owner", pa.string()),
            ("acquired_ms", pa.int64()),  # epoch milliseconds
            ("expires_ms", pa.int64()),
        ]
    ),
    ["name"],
)


def index_lease(repo: str) -> str:
    """Return the name of the lease an index job holds while it writes `repo`."""
    return f"index:{repo}"


class LeaseHeldError(StoreError):
    """Another live job holds the lease."""


class LeaseLostError(StoreError):
    """The lease expired and another job took it while this one still worked."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _when(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def process_owner() -> str:
    """Name this process as a lease owner: host, process id, and a random part against pid reuse."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_is_gone(owner: str) -> bool:
    """Tell whether `owner` ran on this host in a process that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class Lease:
    """A held lease; renew it more often than `ttl` seconds, release it when done."""

    leases: Leases
    name: str
    owner: str
    ttl: float
    acquired_ms: int

    def renew(self) -> None:
        """Push the expiry `ttl` seconds ahead; raise LeaseLostError if another job took the lease."""
        if not self.leases._claim(
            self.name, self.owner, self.ttl, renew_only=True, acquired_ms=self.acquired_ms
        ):
            raise LeaseLostError(
                f"the lease on {self.name!r} was taken by another job after it expired; this job stops "
                f"here and what it wrote is kept; raise index_lease_seconds (now {self.ttl:.0f}) "
                "if batches take longer than that"
            )

    def release(self) -> None:
        self.leases._release(self.name, self.owner)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class Leases:
    """The leases table of one LanceDB connection."""

    def __init__(self, db: Any, write: Callable[[Callable[[], Any]], Any], query: Any) -> None:
        self._db = db
        self._write = write  # Store._write: retries conflicts, wraps errors in StoreError
        self._query = query  # Store._query
        self._table: Any = None

    def _leases(self) -> Any:
        if self._table is None:
            self._table = self._write(
                lambda: open_table(self._db, LEASES_TABLE, LEASES_SCHEMA, key="name")
            )
        return self._table

    def holder(self, name: str) -> dict[str, Any] | None:
        """Return the lease row of `name` (owner, acquired_ms, expires_ms), expired or not, or None."""
        rows = self._query(self._leases(), filters.equals("name", name), None, 1)
        return rows[0] if rows else None

    def acquire(self, name: str, ttl: float, *, wait: float = 0.0, poll: float = 1.0) -> Lease:
        """Take the lease on `name` for `ttl` seconds, waiting up to `wait` seconds for its holder.

        Raises LeaseHeldError naming the holder when the lease stays taken.
        """
        owner = process_owner()
        acquired_ms = _now_ms()
        deadline = time.monotonic() + wait
        while True:
            if self._claim(name, owner, ttl, acquired_ms=acquired_ms):
                logger.debug("took the lease on %s as %s", name, owner)
                return Lease(self, name, owner, ttl, acquired_ms)
            holder = self.holder(name)
            if holder is None:
                # Released between our attempt and our look: try again at once.
                continue
            if _owner_is_gone(holder["owner"]):
                if self._claim(name, owner, ttl, takeover=holder["owner"], acquired_ms=acquired_ms):
                    logger.warning(
                        "took over the lease on %s from %s, a process that no longer runs",
                        name,
                        holder["owner"],
                    )
                    return Lease(self, name, owner, ttl, acquired_ms)
                continue
            if time.monotonic() >= deadline:
                raise LeaseHeldError(
                    f"{name!r} is being indexed by another job ({holder['owner']}, since "
                    f"{_when(holder['acquired_ms'])}); its lease runs until {_when(holder['expires_ms'])} "
                    "unless renewed; run again when that job has finished"
                )
            time.sleep(poll)

    def _claim(
        self,
        name: str,
        owner: str,
        ttl: float,
        *,
        acquired_ms: int,
        takeover: str | None = None,
        renew_only: bool = False,
    ) -> bool:
        """Write the lease row for `owner` if it is free, expired, already ours, or `takeover`'s."""
        now = _now_ms()
        row = {
            "name": name,
            "owner": owner,
            "acquired_ms": acquired_ms,
            "expires_ms": now + int(ttl * 1000),
        }
        condition = f"target.owner = {filters.quote(owner)}"
        if not renew_only:
            condition += f" OR target.expires_ms < {now}"
        if takeover is not None:
            condition += f" OR target.owner = {filters.quote(takeover)}"
        data = pa.Table.from_pylist([row], schema=LEASES_SCHEMA)
        table = self._leases()

        def upsert() -> Any:
            builder = table.merge_insert("name").when_matched_update_all(where=condition)
            if not renew_only:
                builder = builder.when_not_matched_insert_all()
            return builder.execute(data)

        result = self._write(upsert)
        return (result.num_inserted_rows + result.num_updated_rows) == 1

    def _release(self, name: str, owner: str) -> None:
        table = self._leases()
        self._write(
            lambda: table.delete(
                filters.all_of(filters.equals("name", name), filters.equals("owner", owner))
            )
        )
        logger.debug("released the lease on %s", name)
