"""Report formats: one interface (`interface.Formatter`), one module per format."""

from __future__ import annotations

from sri_guard._format.interface import Formatter

FORMATS = ("text", "json", "sarif", "markdown")


def get_formatter(name: str, *, color: bool = False) -> Formatter:
    """The formatter for a `--format` value (already validated against FORMATS)."""
    if name == "json":
        from sri_guard._format.json import JsonFormat

        return JsonFormat()
    if name == "sarif":
        from sri_guard._format.sarif import SarifFormat

        return SarifFormat()
    if name == "markdown":
        from sri_guard._format.markdown import MarkdownFormat

        return MarkdownFormat()
    from sri_guard._format.text import TextFormat

    return TextFormat(color=color)
