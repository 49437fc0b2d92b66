"""Counting tokens the way current models do (OpenAI's o200k_base encoding, bundled offline)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _encoding():  # noqa: ANN202 - bpe_openai has no public type for it
    import bpe_openai

    return bpe_openai.get_encoding("o200k_base")


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text))
