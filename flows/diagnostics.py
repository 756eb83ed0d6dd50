"""Problems found in author files, each with the file and line an author should open."""

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Problem:
    path: str  # relative to the project root, e.g. "flows/oefening-1.yaml"
    line: int  # 1-based; 0 when the problem is about the file as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ContentError(Exception):
    """Raised when flows or texts are broken; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
