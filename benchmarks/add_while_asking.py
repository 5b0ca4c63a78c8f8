"""Question latency while a large article is added, as in the chat: one thread adds, another asks.

    python -m benchmarks.add_while_asking [--mb 4.9] [--write]

Copies seeds/ into a temporary corpus, loads the system (real models) once, measures the
questions of eval/seeds_dev.jsonl alone, then asks them in a loop while another thread adds a
~MB article (10kGNAD test texts joined into one file, up to the article size limit) through
QASystem.add, the chat's path. Reports p50/p95 latency without and during the add, the add's
duration and how many questions were answered meanwhile.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.gnad_corpus import read_gnad  # noqa: E402
from benchmarks.report import update_section  # noqa: E402
from embeddings.documents import MAX_BYTES  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.system import QASystem  # noqa: E402

SECTION = "Questions while a large article is added"
SEEDS_DEV = REPO / "eval" / "seeds_dev.jsonl"


def big_article(folder: Path, megabytes: float) -> Path:
    """One .txt article of about ``megabytes`` MB: a title, then 10kGNAD texts as paragraphs
    (all 1028 of them are 2.7 MB, so they repeat, each copy marked, for a larger article)."""
    limit = min(int(megabytes * 1_000_000), MAX_BYTES - 1000)
    parts, size = ["Sammelband: Nachrichten aus einem Jahr", ""], 0
    texts = [text for _, text in read_gnad()]          # 2.7 MB in all: repeated as needed
    for round_ in range(1 + limit // max(1, sum(len(t.encode("utf-8")) for t in texts))):
        for text in texts:
            text = text if round_ == 0 else f"({round_ + 1}. Folge) {text}"
            if size + len(text.encode("utf-8")) + 2 > limit:
                break
            parts.append(text)
            size += len(text.encode("utf-8")) + 2
        else:
            continue
        break
    path = folder / "sammelband.txt"
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


def percentiles(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), float(np.percentile(times, 95))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=4.9, help="size of the added article in MB (default 4.9)")
    parser.add_argument("--write", action="store_true", help="write the section of docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    questions = [json.loads(line)["question"] for line in SEEDS_DEV.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    with tempfile.TemporaryDirectory(prefix="add-while-asking-") as tmp:
        folder = Path(tmp)
        corpus = folder / "corpus"
        shutil.copytree(REPO / "seeds", corpus)
        settings = Settings.from_env().replace(corpus_dir=corpus, index_dir=folder / "index")
        system = QASystem.load(settings, show_progress=False)
        article = big_article(folder, args.mb)
        size_mb = article.stat().st_size / 1e6
        alone = []
        for question in questions:
            started = time.perf_counter()
            system.ask(question)
            alone.append(time.perf_counter() - started)
        report: dict = {}

        def add() -> None:
            started = time.perf_counter()
            report["add"] = system.add([article], show_progress=False)
            report["seconds"] = time.perf_counter() - started

        adding = threading.Thread(target=add)
        adding.start()
        during, asked = [], 0
        while adding.is_alive():
            question = questions[asked % len(questions)]
            started = time.perf_counter()
            system.ask(question)
            if adding.is_alive():
                during.append(time.perf_counter() - started)
            asked += 1
        adding.join()
    p50_alone, p95_alone = percentiles(alone)
    p50_during, p95_during = percentiles(during) if during else (float("nan"), float("nan"))
    chunks = report["add"].chunks
    text = "\n".join([
        f"Command: `python -m benchmarks.add_while_asking --mb {args.mb}`. The seeds corpus with the "
        f"real models; one thread adds a {size_mb:.1f} MB article ({chunks} passages, 10kGNAD texts "
        "joined) through QASystem.add, the chat's path, while another asks the 104 questions of "
        f"eval/seeds_dev.jsonl in a loop. 2 CPU cores shared with other work "
        f"(load average {os.getloadavg()[0]:.1f} at the end).",
        "",
        "| | questions | p50 s | p95 s |",
        "|---|---|---|---|",
        f"| alone | {len(alone)} | {p50_alone:.2f} | {p95_alone:.2f} |",
        f"| while the article is added | {len(during)} | {p50_during:.2f} | {p95_during:.2f} |",
        "",
        f"The add took {report['seconds']:.0f} s; {len(during)} questions were answered during it "
        f"(goal of issue 15: p95 under 2 s). Before the fix the add held the model lock: every "
        "question asked during it waited for the whole add.",
    ])
    print(text)
    if args.write:
        update_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
