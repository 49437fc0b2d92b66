"""Turning a file path a user gives into the path the index stores: relative to the repository's root.

A path may be given relative to the root, relative to the current folder, or absolute. The
readings are tried in that order, comparing real paths so that symlinks and `..` work, and the
first that names a file of the repository wins. A path that names none raises an InputError
that quotes it and explains how to find the right one, so no path is dropped silently.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from headstart.errors import InputError

logger = logging.getLogger("headstart.context.paths")


@dataclass(frozen=True)
class RepositoryFiles:
    """The repository a given path is checked against.

    `lookup` takes a path relative to the root and returns the file's name at the indexed head,
    where an old name of a renamed file gives the new one. For a file only the working tree has,
    it returns the path itself, and None when the repository has no such file.
    """

    name: str
    root: Path | None  # the working tree's real path; None when it is not on this machine
    lookup: Callable[[str], str | None]
    history: bool = False  # the paths come from a history request, so errors also mention history

    @property
    def where(self) -> str:
        if self.root is None or self.root.as_posix() == self.name:
            return self.name
        return f"{self.name} ({self.root})"


def resolve_files(given: Sequence[str], files: RepositoryFiles, cwd: Path | None = None) -> list[str]:
    """Return each of `given` relative to the repository's root, in order and without duplicates."""
    return list(dict.fromkeys(resolve_file(path, files, cwd) for path in given))


def resolve_file(given: str, files: RepositoryFiles, cwd: Path | None = None) -> str:
    """Return `given` relative to the repository's root; raise InputError when it names no file of it."""
    if not given.strip():
        raise InputError("a file path is empty; give a file of the repository, relative to its root")
    readings = _readings(given.replace("\\", "/"), files.root, cwd)
    for reading in readings:
        found = files.lookup(reading)
        if found is not None:
            if found != given:
                logger.debug("read the file %r as %r", given, found)
            return found
    raise _not_found(given, readings, files)


def _readings(text: str, root: Path | None, cwd: Path | None) -> list[str]:
    """Return the paths relative to the root that `text` may mean: from the root, then from `cwd`."""
    if os.path.isabs(text):
        return _inside(Path(text), root) if root is not None else []
    if root is None:
        relative = os.path.normpath(text)
        return [] if relative == ".." or relative.startswith("../") else [Path(relative).as_posix()]
    readings = _inside(root / text, root)
    if cwd is not None:
        readings += _inside(cwd / text, root)
    return list(dict.fromkeys(readings))


def _inside(path: Path, root: Path) -> list[str]:
    """Return `path` relative to `root`, as written and with symlinks resolved, or [] if outside."""
    readings: list[str] = []
    for candidate in (os.path.normpath(path), os.path.realpath(path)):
        try:
            readings.append(Path(candidate).relative_to(root).as_posix())
        except ValueError:
            continue
    return list(dict.fromkeys(readings))


def _not_found(given: str, readings: list[str], files: RepositoryFiles) -> InputError:
    if not readings and files.root is None:
        return InputError(
            f"{given!r} is an absolute path, but the working tree of {files.name} is not on this "
            "machine; give the path relative to the repository's root"
        )
    if not readings:
        return InputError(
            f"{given!r} is outside the repository {files.where}; give a path inside {files.root}, "
            "relative to its root or absolute"
        )
    folder = next((reading for reading in readings if files.root and (files.root / reading).is_dir()), None)
    if folder is not None:
        return InputError(
            f"{given!r} is a folder of {files.where}, not a file; name a file in it "
            f"(`git ls-files {folder}` lists them)"
        )
    tried = " or ".join(repr(reading) for reading in readings)
    what = f"has no history in {files.where} and is not a file of it" if files.history else (
        f"is not a file of {files.where}"
    )
    return InputError(
        f"{given!r} {what}: neither the indexed head nor the working tree has {tried}; give the path "
        "relative to the repository's root, or absolute (`git ls-files` lists the files)"
    )
