"""The commands' rich console: laid out for a terminal, never wrapped when it writes to a file or a pipe.

Rich wraps every line at 80 columns when it cannot ask a terminal for its width, which breaks paths, URLs and
log lines in two wherever output goes to a file, a pipe, a CI log or a test runner. :class:`Output` decides when
it prints: to a terminal it is rich's ordinary console; elsewhere lines are soft-wrapped (printed whole) and
tables are as wide as their cells.
"""

from __future__ import annotations

from rich.console import Console, ConsoleDimensions

#: the width a table may take when the output is no terminal: as wide as its widest row
UNWRAPPED = 100_000


class Output(Console):
    """A rich console that wraps nothing unless it writes to a terminal (checked at each print)."""

    @property
    def soft_wrap(self) -> bool:
        return self._soft_wrap or not self.is_terminal

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:
        self._soft_wrap = value

    @property
    def size(self) -> ConsoleDimensions:
        if self.is_terminal:
            return super().size
        return ConsoleDimensions(UNWRAPPED, super().size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


def output(*, stderr: bool = False) -> Output:
    """A console on stdout (or stderr), highlighting nothing (notice text is not code)."""
    return Output(stderr=stderr, highlight=False)
