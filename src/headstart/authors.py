"""Bot authors: recognising dependency and tooling bots by a commit's `Name <email>`."""

from __future__ import annotations

import re

# Dependency and tooling bots, matched on the author's name and on the local part of the email.
_BOT = re.compile(
    r"\[bot\]|(?:^|[^a-z])bot(?:$|[^a-z])|^(?:dependabot|renovate|greenkeeper|pre-commit-ci|github-actions|mergify|snyk)",
    re.IGNORECASE,
)


def is_bot(author: str) -> bool:
    """Return whether `author` ("Name <email>") is a bot.

    "dependabot[bot] <…>" is one, and "Robert Botham <…>" is not.
    """
    name, _, email = author.partition("<")
    return bool(_BOT.search(name) or _BOT.search(email.partition("@")[0]))
