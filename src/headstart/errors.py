"""Errors a caller can handle, all under one root.

HeadstartError
 ├── InputError        bad input from the user: a path, a revision, an option value
 │    └── NotARepositoryError
 ├── StoreError        the vector store refused a read or write, or holds another model's vectors
 └── IndexNotFoundError  a brief or search was asked of a repository that was never indexed

The message of each says which input was wrong and what to do about it.
"""


class HeadstartError(Exception):
    """Root of every error Headstart raises on purpose."""


class InputError(HeadstartError):
    """The user gave a value Headstart cannot use."""


class NotARepositoryError(InputError):
    """A path is not inside a git repository."""


class StoreError(HeadstartError):
    """The store failed, or its contents do not match the request."""


class IndexNotFoundError(HeadstartError):
    """Nothing has been indexed for the repository a request names."""
