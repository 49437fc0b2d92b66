"""The vector store: LanceDB tables of records, the embedder, and hybrid search."""

from headstart.store.embedder import Embedder
from headstart.store.leases import LeaseHeldError, LeaseLostError
from headstart.store.store import RepositoryState, SearchHit, Store

__all__ = ["Embedder", "LeaseHeldError", "LeaseLostError", "RepositoryState", "SearchHit", "Store"]
