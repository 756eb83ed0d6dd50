"""Problems found in author files, each with the file and line an author should open, and a
stable code (`KC012`) that docs/flow-format.md explains in one line."""

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Problem:
    path: str  # relative to the project root, e.g. "flows/oefening-1.yaml"
    line: int  # 1-based; 0 when the problem is about the file as a whole
    code: str  # "KC" and three digits; the same problem keeps its code across versions
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.message}"
