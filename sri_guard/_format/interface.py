"""The interface every report format implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from sri_guard.model import Report


class Formatter(ABC):
    """Turns a finished Report into the text of one output format."""

    @abstractmethod
    def format(self, report: Report) -> str:
        """The whole report as text, ending with a newline."""
