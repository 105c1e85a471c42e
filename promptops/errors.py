"""One error hierarchy for everything a user can fix.

Every ``PromptOpsError`` is turned into one clean message and an exit code by
the CLI (``promptops.cli.main``); anything else is a bug, reported in one line
with exit code 4 (``EXIT_INTERNAL``) so CI can tell a crash from failing tests.
Set ``PROMPTOPS_DEBUG=1`` to re-raise every error with its traceback.
"""

from __future__ import annotations

import errno
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INFRA = 3
EXIT_INTERNAL = 4
"""A bug: an exception no error class describes. One line; ``PROMPTOPS_DEBUG=1`` shows the traceback."""


class PromptOpsError(Exception):
    """A problem the user can fix; carries the file and line it comes from."""

    exit_code = EXIT_INVALID

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line

    def location(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message


class ConfigError(PromptOpsError):
    """promptops.yaml is missing or invalid, or a model alias is unknown."""


class PromptError(PromptOpsError):
    """A prompt file is invalid or failed to render."""


class SuiteError(PromptOpsError):
    """A suite file is invalid."""


class UsageError(PromptOpsError):
    """A command was called with options that do not fit together."""


class ProviderError(PromptOpsError):
    """A provider could not be reached at all; no verdict is possible."""

    exit_code = EXIT_INFRA


class RunInterrupted(PromptOpsError):
    """A run was stopped by a signal; every finished result is kept and it can be resumed."""

    exit_code = EXIT_INFRA


class StorageError(PromptOpsError):
    """The project's state (cache, run records) cannot be read or written: disk full, read-only, locked."""

    exit_code = EXIT_INFRA


class PromptOpsWarning(UserWarning):
    """Something went wrong that the run survives (a damaged cache set aside); shown as one line."""


_STORAGE_HINTS = {
    errno.ENOSPC: "the disk is full: free some space and run again",
    errno.EDQUOT: "the disk quota is exhausted: free some space and run again",
    errno.EFBIG: "the file is larger than this system allows: free space or raise the file size limit",
    errno.EROFS: (
        "the file system is read-only: promptops writes its cache and run records under .promptops/, "
        "so run it from a writable checkout"
    ),
    errno.EACCES: "permission denied: make the folder writable by this user",
    errno.EPERM: "operation not permitted: make the folder writable by this user",
    errno.EISDIR: "a folder is where a file should be: remove or rename it",
    errno.ENOTDIR: "a file is where a folder should be: remove or rename it",
}


def storage_error(exc: OSError, path: str | Path, doing: str) -> StorageError:
    """One message for a failed read or write of the project's state: what failed, and what to do."""
    hint = _STORAGE_HINTS.get(exc.errno or 0) or f"{exc.strerror or exc}: check the disk and the folder"
    return StorageError(f"cannot {doing}: {hint}", file=path)
