"""Benchmark scripts replace their own "## title" section of docs/BENCHMARKS.md, atomically."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from embeddings.atomic import atomic_file

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
HEADER = ("# Benchmarks\n\nEach section is written by the script named in it; rerun its command to update it. "
          "Scripts in\nbenchmarks/ produce current figures of the product; those in experiments/ are concluded\n"
          "experiments, run once to choose a default (their sections keep the conclusion and the command;\n"
          "see experiments/README.md).\n")


def update_section(title: str, markdown: str, *, path: Path | str = BENCHMARKS_MD) -> Path:
    """Replace (or append) the section headed ``## title`` with ``markdown``; other sections stay.

    The section runs up to the next ``## `` heading. The file is created if missing and
    written through a temp file + rename, so readers never see half a file.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    section = f"## {title}\n\n{markdown.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}[ \t]*\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def positive_int(value: str) -> int:
    """An argparse type for counts (questions, rounds): a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return number
