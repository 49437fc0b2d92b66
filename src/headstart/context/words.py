"""Splitting task text, messages and paths into the words lexical ranking compares."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "if", "in", "into", "is", "it", "its", "not", "of", "on", "or", "so", "that", "the", "their", "then", "there", "these", "this", "to", "was", "when", "which", "will", "with", "without", "self", "none", "true", "false", "return", "def", "import"]
)


def tokenize(text: str) -> list[str]:
    """Split text into lowercase words, breaking identifiers at underscores and camel case."""
    tokens: list[str] = []
    for word in _WORD.findall(text):
        parts = _CAMEL.findall(word)
        for token in (word.lower(), *(part.lower() for part in parts if len(parts) > 1)):
            if len(token) > 1 and token not in _STOPWORDS:
                tokens.append(token)
    return tokens
