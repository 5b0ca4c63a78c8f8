"""Per-question latency of this checkout against another one, in the same run (A B A B ...).

    git worktree add /tmp/base REV
    python benchmarks/latency_ab.py /tmp/base [--rounds 2] [--write]
    python benchmarks/latency_ab.py /tmp/base --rounds 1 --limit 5     # smoke run

REV may be older than the restructure (qa.build.build_pipeline) or newer (QASystem.load): the
probe that runs inside each tree uses whichever the tree has.

Each round starts one fresh process per tree (its own code, the same venv, models and seeds
index), asks the questions of eval/seeds_dev.jsonl end to end (k=3, top_n=1) after three
warm-up questions, and records each question's wall time. Rounds alternate the trees, so the
machine's drift hits both. Reports p50 / p95 per tree and the ratio of the medians; with
``--write`` the figures go to docs/BENCHMARKS.md, section "Latency against a base revision".
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.report import positive_int, update_section  # noqa: E402

SECTION = "Latency against a base revision"
# Runs inside each tree, so it must work with either API: QASystem.load (qa/system.py, since the
# restructure) or, in an older base revision, qa.build.build_pipeline. Both give a QAPipeline and
# the question goes to its ask() in both trees, so the same code path is timed.
PROBE = """
import importlib.util, json, logging, sys, time
sys.path.insert(0, ".")
logging.basicConfig(level=logging.ERROR)
from qa.settings import Settings
questions = [json.loads(l)["question"] for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
questions = questions[:int(sys.argv[3])] if len(sys.argv) > 3 else questions
settings = Settings.from_env().replace(index_dir=sys.argv[2])
if importlib.util.find_spec("qa.system") is not None:   # an import error inside it is not hidden
    from qa.system import QASystem
    pipeline = QASystem.load(settings, show_progress=False).pipeline
else:
    from qa.build import build_pipeline
    pipeline = build_pipeline(settings, show_progress=False)
for q in questions[:3]:
    pipeline.ask(q, k=3, top_n=1)
times = []
for q in questions:
    started = time.perf_counter()
    pipeline.ask(q, k=3, top_n=1)
    times.append((time.perf_counter() - started) * 1000)
print(json.dumps(times))
"""


def probe(tree: Path, questions: Path, index_dir: Path, limit: int | None = None) -> list[float]:
    command = [sys.executable, "-c", PROBE, str(questions), str(index_dir)]
    if limit is not None:
        command.append(str(limit))
    result = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{tree}: the probe failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="a checkout of the base revision (git worktree add)")
    parser.add_argument("--rounds", type=positive_int, default=2)
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="first N questions only (a smoke run; not written)")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    if not (args.base / "qa" / "settings.py").exists():   # before and after the restructure
        parser.error(f"{args.base} is not a checkout of this project")
    if args.write and args.limit is not None:
        parser.error("--limit is a smoke run; its figures are not written (drop --write or --limit)")
    questions = REPO / "eval" / "seeds_dev.jsonl"
    trees = {"this checkout": REPO, f"base ({args.base})": args.base.resolve()}
    times: dict[str, list[float]] = {name: [] for name in trees}
    for round_ in range(args.rounds):
        order = list(trees.items()) if round_ % 2 == 0 else list(trees.items())[::-1]
        for name, tree in order:
            # each tree its own index folder: the base may write a different manifest
            index = REPO / "runs" / "latency_ab" / ("new" if tree == REPO else "base")
            times[name] += probe(tree, questions, index, args.limit)
            print(f"round {round_ + 1}: {name}: p50 {statistics.median(times[name]):.0f} ms", flush=True)
    medians = {name: statistics.median(t) for name, t in times.items()}
    new, base = medians["this checkout"], medians[f"base ({args.base})"]
    base_rev = subprocess.run(["git", "-C", str(args.base), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    lines = [f"Command: `python benchmarks/latency_ab.py BASE --rounds {args.rounds}` (BASE: a worktree of "
             f"{base_rev or args.base}), {len(times['this checkout']) // args.rounds} questions of "
             f"eval/seeds_dev.jsonl, k=3, top_n=1, one fresh process per tree and round, alternating; "
             f"2 CPU cores, load average {os.getloadavg()[0]:.1f} at the end.", "",
             "| tree | p50 ms | p95 ms |", "|---|---|---|"]
    for name, t in times.items():
        lines.append(f"| {name} | {medians[name]:.0f} | {float(np.percentile(t, 95)):.0f} |")
    lines += ["", f"Ratio of medians (this / base): {new / base:.2f}."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        update_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
