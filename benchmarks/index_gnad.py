"""Indexing throughput and query latency on 1028 real German news articles (10kGNAD test).

    python benchmarks/index_gnad.py [--limit N] [--queries 200]

Writes the articles as .txt files into a temp corpus folder, indexes them with the
offline e5 model through the same code as ``qa index``, then times ``Retriever.search``
(encode + FAISS search) on questions. Reports chunks/s, wall time and latency p50/p95.
"""
from __future__ import annotations

import argparse
import csv
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import update_section  # noqa: E402
from embeddings.encoder import load_embedder  # noqa: E402
from embeddings.indexing import open_index  # noqa: E402
from qa.retriever import Retriever  # noqa: E402

GNAD = REPO.parent / "shared" / "data" / "gnad10k" / "test.csv"
QUERIES = [
    "Wie hoch ist die Arbeitslosigkeit in Österreich?", "Wer hat das Spiel gewonnen?",
    "Was fordert die Gewerkschaft?", "Wann findet die Wahl statt?", "Wie viele Flüchtlinge kamen an?",
    "Welche Firma hat ihre Zahlen vorgelegt?", "Was sagt der Bundeskanzler?",
    "Where did the earthquake happen?", "Wer wurde verhaftet?", "Wie reagierte die Börse?",
]


def read_gnad(path: Path, limit: int | None) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";", quotechar="'"))
    return [(label, text) for label, text in rows[:limit]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="index only the first N articles")
    parser.add_argument("--queries", type=int, default=200, help="timed searches")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import torch

    articles = read_gnad(GNAD, args.limit)
    embedder = load_embedder("e5-small")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i, (label, text) in enumerate(articles):
            (corpus / f"gnad-{i:04d}-{label}.txt").write_text(text, encoding="utf-8")
        started = time.perf_counter()
        status = open_index(corpus, Path(tmp) / "index", embedder, show_progress=True)
        wall = time.perf_counter() - started
        index = status.index
        retriever = Retriever(index, embedder)
        for q in QUERIES[:3]:  # warm-up
            retriever.search(q, k=5)
        latencies = []
        for i in range(args.queries):
            t = time.perf_counter()
            retriever.search(QUERIES[i % len(QUERIES)] + f" ({i})", k=5)
            latencies.append((time.perf_counter() - t) * 1000)
    chunks = len(index)
    p50, p95 = statistics.median(latencies), float(np.percentile(latencies, 95))
    lines = [
        f"- corpus: {len(articles)} articles of 10kGNAD test ({sum(len(t) for _, t in articles) / 1e6:.2f} M characters)",
        f"- chunks: {chunks} (200-token budget, 1 sentence overlap)",
        f"- indexing wall time (load, split, chunk, embed, save): {wall:.1f} s, **{chunks / wall:.1f} chunks/s** "
        f"on {torch.get_num_threads()} threads",
        f"- query latency (encode + flat FAISS search, k=5) over {args.queries} questions: "
        f"**p50 {p50:.1f} ms, p95 {p95:.1f} ms**",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        command = "python benchmarks/index_gnad.py" + (f" --limit {args.limit}" if args.limit else "")
        update_section("Indexing and search latency (10kGNAD)", f"Command: `{command}`\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
