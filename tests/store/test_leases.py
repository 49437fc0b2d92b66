"""Leases in the store: one holder at a time, expiry, takeover from a dead process, renewal."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from headstart.store import Embedder, LeaseHeldError, LeaseLostError, Store
from headstart.store.leases import LEASES_SCHEMA


@pytest.fixture
def leases_store(tmp_path: Path) -> Store:
    # Leases need no embedding model: a never-loaded embedder is enough.
    return Store(str(tmp_path / "store"), Embedder("all-MiniLM-L6-v2"))


def test_held_lease_rejects_second_job(leases_store: Store) -> None:
    held = leases_store.leases.acquire("index:github.com/acme/api", ttl=60)

    with pytest.raises(LeaseHeldError) as refused:
        leases_store.leases.acquire("index:github.com/acme/api", ttl=60)

    assert "'index:github.com/acme/api' is being indexed by another job" in str(refused.value)
    assert held.owner in str(refused.value)
    other = leases_store.leases.acquire("index:github.com/acme/web", ttl=60)
    assert other.owner != held.owner


def test_released_lease_is_free(leases_store: Store) -> None:
    with leases_store.leases.acquire("index:repo", ttl=60):
        pass

    again = leases_store.leases.acquire("index:repo", ttl=60)

    assert leases_store.leases.holder("index:repo")["owner"] == again.owner


def test_expired_lease_taken_over(leases_store: Store) -> None:
    stale = leases_store.leases.acquire("index:repo", ttl=0.05)
    time.sleep(0.1)

    fresh = leases_store.leases.acquire("index:repo", ttl=60)

    assert leases_store.leases.holder("index:repo")["owner"] == fresh.owner
    with pytest.raises(LeaseLostError, match="taken by another job"):
        stale.renew()
    fresh.renew()


def test_dead_local_holder_taken_over(leases_store: Store) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead_owner = f"{socket.gethostname()}:{finished.pid}:deadbeef"
    table = leases_store.leases._leases()
    now = int(time.time() * 1000)
    row = {
        "name": "index:repo",
        "owner": dead_owner,
        "acquired_ms": now,
        "expires_ms": now + 3_600_000,
    }
    table.add(pa.Table.from_pylist([row], schema=LEASES_SCHEMA))

    lease = leases_store.leases.acquire("index:repo", ttl=60)

    assert leases_store.leases.holder("index:repo")["owner"] == lease.owner


def test_remote_holder_kept_until_expiry(leases_store: Store) -> None:
    table = leases_store.leases._leases()
    now = int(time.time() * 1000)
    row = {
        "name": "index:repo",
        "owner": "other-host:1:cafe",
        "acquired_ms": now,
        "expires_ms": now + 3_600_000,
    }
    table.add(pa.Table.from_pylist([row], schema=LEASES_SCHEMA))

    with pytest.raises(LeaseHeldError, match="other-host:1:cafe"):
        leases_store.leases.acquire("index:repo", ttl=60, wait=0.2, poll=0.05)


def test_racing_jobs_one_winner(tmp_path: Path) -> None:
    stores = [Store(str(tmp_path / "store"), Embedder("all-MiniLM-L6-v2")) for _ in range(4)]
    stores[0].leases._leases()
    start = threading.Barrier(len(stores))
    winners: list[str] = []
    refused: list[str] = []

    def race(store: Store) -> None:
        start.wait()
        try:
            winners.append(store.leases.acquire("index:repo", ttl=60).owner)
        except LeaseHeldError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=race, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(winners) == 1
    assert len(refused) == len(stores) - 1
    assert stores[0].leases.holder("index:repo")["owner"] == winners[0]
