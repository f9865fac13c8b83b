"""The project's plain-text docstrings and pages as Python-Markdown reads them.

Docstrings (and the pages, first written as the README) start a list on the line after its lead-in
("Deviations, and why:" then "- ..."), which Python-Markdown reads as one paragraph unless a blank
line comes between, and write placeholders such as `test/<defect>`, which it would take for HTML
tags and drop. `as_markdown` adds the blank line and escapes the `<`; the griffe extension
`PlainMarkdown` applies it to every docstring mkdocstrings renders, `docs/hooks.py` to every page.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d+\.) ")
_TAG = re.compile(r"<(?=[A-Za-z/])(?!https?:|mailto:)")


def as_markdown(text: str) -> str:
    """`text` with a blank line before each list that follows prose, and no `<` read as a tag."""
    out: list[str] = []
    fenced = False
    for line in text.splitlines():
        before = out[-1] if out else ""
        prose = before.strip() and not before[0].isspace() and not _ITEM.match(before)
        if prose and not fenced and _ITEM.match(line):
            out.append("")
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and not line.startswith(("    ", "\t")):
            spans = line.split("`")  # the odd parts are code spans, shown as written
            line = "`".join(_TAG.sub("&lt;", s) if i % 2 == 0 else s for i, s in enumerate(spans))
        out.append(line)
    return "\n".join(out)


class PlainMarkdown(griffe.Extension):
    """Apply `as_markdown` to every docstring mkdocstrings renders."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the object's docstring, if it has one."""
        if obj.docstring is not None:
            obj.docstring.value = as_markdown(obj.docstring.value)
