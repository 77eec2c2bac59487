"""One-line data errors in the house style: ``<file>: <what>: got <value>; expected <allowed>``."""

from __future__ import annotations

from typing import Any


class DataError(ValueError):
    """A dataset that is missing, corrupted, truncated or in an unexpected format."""

    def __init__(self, file: Any, what: str, value: Any, expected: Any):
        self.file, self.what, self.value, self.expected = str(file), what, value, expected
        shown = value if isinstance(value, (int, float)) else repr(value)
        if isinstance(shown, str) and len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{self.file}: {what}: got {shown}; expected {expected}")

    @classmethod
    def not_found(cls, file: Any, what: str, expected: Any) -> "DataError":
        """A local copy that is not there: the message says so instead of ``got 'missing'``."""
        err = cls(file, what, "missing", expected)
        err.args = (f"{err.file}: {what} not found; expected {expected}",)
        return err
