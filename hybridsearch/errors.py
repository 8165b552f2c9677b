"""The exception hierarchy: every error a user can cause says what happened and what to do."""


class HybridSearchError(Exception):
    """Base class for errors shown to the user as a plain message."""


class ModelError(HybridSearchError):
    """A model file or directory is missing, damaged or of an unsupported kind."""


class InputError(HybridSearchError, ValueError):
    """Bad input to an API (wrong type, empty list where one is not allowed)."""


class DataError(HybridSearchError):
    """A data file (QA pairs, evaluation data) is malformed; ``problems`` holds (line, message)."""

    def __init__(self, message: str, problems: list[tuple[int, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []


class LibraryLockedError(HybridSearchError):
    """The library database is locked by another process (for example a running app); ``holder``:
    that process's id when known."""

    def __init__(self, message: str, holder: str | None = None):
        super().__init__(message)
        self.holder = holder


class Cancelled(HybridSearchError):
    """A long job stopped because its cancel flag was set."""


class ModelMismatchError(HybridSearchError):
    """The vector index was built by another encoder than the one in use: a re-embed is needed."""
