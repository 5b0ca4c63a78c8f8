"""Write the 1028 10kGNAD test articles as a corpus folder of .txt files.

    python -m benchmarks.gnad_corpus OUT_DIR [--csv PATH]

Each csv row becomes ``gnad-{row:04d}-{label}.txt`` (0-based row, as ``write_batches`` in
``benchmarks/index_gnad.py`` names them), its text exactly as in the csv. That file name is the
``doc_id`` that ``eval/gnad_dev.jsonl`` refers to. Files are written to a temporary name and
renamed; a file that already holds the same text is left alone, so a second run changes nothing.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from embeddings.atomic import atomic_file  # noqa: E402
from qa.settings import folder_argument  # noqa: E402
GNAD = REPO.parent / "shared" / "data" / "gnad10k" / "test.csv"


def read_gnad(path: Path | str = GNAD) -> list[tuple[str, str]]:
    """(label, text) of every row of the 10kGNAD csv (``label;'text'``), in file order."""
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"{path}: no such file; the 10kGNAD test csv is needed (label;'text' per line)")
    with open(path, encoding="utf-8", newline="") as handle:
        return [(label, text) for label, text in csv.reader(handle, delimiter=";", quotechar="'")]


def file_name(row: int, label: str) -> str:
    return f"gnad-{row:04d}-{label}.txt"


def write_gnad_corpus(folder: Path | str, *, csv_path: Path | str = GNAD) -> list[Path]:
    """Write every article of ``csv_path`` into ``folder``; the paths, in row order."""
    folder = Path(folder)
    articles = read_gnad(csv_path)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for row, (label, text) in enumerate(articles):
        target = folder / file_name(row, label)
        data = text.encode("utf-8")
        if not (target.is_file() and target.read_bytes() == data):
            with atomic_file(target) as temporary:   # a unique temp name: writers never share one
                temporary.write_bytes(data)
        paths.append(target)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=folder_argument, metavar="OUT_DIR", help="folder to write the .txt files into")
    parser.add_argument("--csv", type=Path, default=GNAD, help=f"the 10kGNAD csv (default {GNAD})")
    args = parser.parse_args(argv)
    paths = write_gnad_corpus(args.out_dir, csv_path=args.csv)
    print(f"{len(paths)} articles in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
