"""End-to-end latency per question on the seeds, for the speed levers of the reader.

    python benchmarks/speed.py [--repeat 1]

Asks every question of eval/seeds_dev.jsonl through QAPipeline.ask (retrieval + reading +
abstention) with the built-in models, for: k=3 (default), k=5, and k=3 with the reader
quantised to int8. Reports p50/p95 latency and, to show what each lever costs, EM/F1 on the
same questions (German normalisation; the seeds set is a measuring set, nothing is tuned
on it). The F1 cost of int8 with the gold paragraph on MLQA-de dev is in the reader section.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import update_section  # noqa: E402
from qa.build import build_pipeline  # noqa: E402
from qa.evaluation.scoring import exact_match, f1_score  # noqa: E402
from qa.pipeline import QAPipeline  # noqa: E402
from qa.reader import load_reader  # noqa: E402
from qa.settings import Settings  # noqa: E402

SEEDS_DEV = REPO / "eval" / "seeds_dev.jsonl"


def run(pipeline: QAPipeline, questions: list[dict], *, k: int, repeat: int) -> dict:
    latencies, ems, f1s = [], [], []
    for _ in range(repeat):
        for row in questions:
            started = time.perf_counter()
            response = pipeline.ask(row["question"], k=k, top_n=1)
            latencies.append((time.perf_counter() - started) * 1000)
            predicted = "" if response.abstained else response.answers[0].text
            if row["answers"]:
                ems.append(max(exact_match(predicted, g, normalisation="de") for g in row["answers"]))
                f1s.append(max(f1_score(predicted, g, normalisation="de") for g in row["answers"]))
            else:
                ems.append(float(response.abstained))
                f1s.append(float(response.abstained))
    return {"p50": statistics.median(latencies), "p95": float(np.percentile(latencies, 95)),
            "em": 100 * float(np.mean(ems)), "f1": 100 * float(np.mean(f1s)), "n": len(questions)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = Settings.from_env()
    questions = [json.loads(l) for l in SEEDS_DEV.read_text(encoding="utf-8").splitlines() if l.strip()]
    questions = questions[:args.limit]
    pipeline = build_pipeline(settings, show_progress=False)
    for row in questions[:3]:  # warm-up: first calls allocate buffers
        pipeline.ask(row["question"], k=3)
    results = {
        "k=3 (default)": run(pipeline, questions, k=3, repeat=args.repeat),
        "k=5": run(pipeline, questions, k=5, repeat=args.repeat),
    }
    int8 = QAPipeline(pipeline.retriever, load_reader("builtin", cache_dir=settings.cache_dir, quantize=True),
                      abstention=pipeline.abstention)
    for row in questions[:3]:
        int8.ask(row["question"], k=3)
    results["k=3, reader int8"] = run(int8, questions, k=3, repeat=args.repeat)
    load = os.getloadavg()[0]
    lines = ["| configuration | p50 ms | p95 ms | EM | F1 |", "|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['p50']:.0f} | {r['p95']:.0f} | {r['em']:.1f} | {r['f1']:.1f} |")
    table = "\n".join(lines)
    text = (f"Command: `python benchmarks/speed.py`\n\n{len(questions)} questions of eval/seeds_dev.jsonl "
            f"(answerable and unanswerable; abstaining right counts as correct), end to end through "
            f"`QAPipeline.ask` on the seeds index, {settings.retrieval_mode} retrieval, built-in reader "
            f"reading the top k chunks jointly; 2 CPU cores, load average {load:.1f} when it finished "
            f"(other jobs shared the machine).\n\n{table}\n")
    print(text)
    if not args.no_write:
        update_section("Speed (end to end, seeds)", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
