"""What validation reports: one :class:`Finding` per broken rule, all raised as a CaseError.

Every input check (case files, sweep and fit files) reports its findings the
same way, ``error: FILE: section.key: what is wrong``, and suggests the nearest
valid name for a misspelt one (:func:`nearest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One validation finding: the file, the dotted key, and the rule broken."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        key = self.key if len(self.key) <= 100 else f"{self.key[:80]}..."
        return f"error: {self.file}: {key}: {self.message}"


class CaseError(ValueError):
    """A case that failed validation; ``problems`` lists every finding."""

    def __init__(self, problems: list[Finding]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its arguments where it is unpickled (a pool worker's failure)
        return (type(self), (self.problems,))
