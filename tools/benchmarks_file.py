"""BENCHMARKS.md is written by several benchmarks, each owning one `## ` section of it."""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, heading: str, new: str) -> None:
    """Put ``new`` in place of the section that starts with ``heading`` (or append it), leaving the others alone."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(heading)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + new
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + new + (text[end:] if end >= 0 else "")
    path.write_text(text)
