"""Reading the Markdown of README.md and docs/: its links and its fenced code blocks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
# [text](target), ![alt](target) and <https://...>, outside code blocks.
_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<(https?://[^>]+)>")


def code_blocks(path: Path, language: str = "python") -> list[str]:
    """The fenced code blocks of one language in a Markdown file, in order."""
    return [code for lang, code in _FENCE.findall(path.read_text()) if lang == language]


def code_block(path: Path, containing: str) -> str:
    """The one Python block of ``path`` that contains ``containing``."""
    found = [code for code in code_blocks(path) if containing in code]
    assert len(found) == 1, f"{len(found)} Python blocks of {path.name} contain {containing!r}"
    return found[0]


def links(path: Path) -> list[str]:
    """Every link and image target of a Markdown file, code blocks left out."""
    prose = _FENCE.sub("", path.read_text())
    prose = re.sub(r"`[^`\n]*`", "", prose)
    return [a or b for a, b in _LINK.findall(prose)]


def run_block(code: str, name: str, **namespace: object) -> dict[str, object]:
    """Execute a code block as a script would, with ``namespace`` already defined."""
    scope: dict[str, object] = {"__name__": "__main__", **namespace}
    exec(compile(code, name, "exec"), scope)
    return scope
