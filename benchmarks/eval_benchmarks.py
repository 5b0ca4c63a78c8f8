"""Run issue 5's evaluation list with ``qa eval`` and update its section of docs/BENCHMARKS.md.

    python -m benchmarks.eval_benchmarks                  # all (tens of minutes on 2 CPU cores)
    python -m benchmarks.eval_benchmarks --only xquad-de-reader,mlqa-de-reader
    python -m benchmarks.eval_benchmarks --list           # the commands, nothing run
    python -m benchmarks.eval_benchmarks --render-only    # rebuild the section from runs/bench/

Each benchmark writes its run folder to runs/bench/<name>/ (metrics.json, predictions.jsonl,
report.html); the section is rebuilt from every run folder present, so benchmarks can be run
one at a time. Data: ../shared/data (or --data-dir / $QA_EVAL_DATA).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import update_section  # noqa: E402
from embeddings.atomic import atomic_file  # noqa: E402

SECTION = "Batch evaluation (qa eval)"
RUNS = REPO / "runs" / "bench"
DEFAULT_DATA = Path(os.environ.get("QA_EVAL_DATA", REPO.parent / "shared" / "data"))


@dataclass(frozen=True)
class Benchmark:
    name: str
    label: str
    args: tuple[str, ...]      # after "qa eval"; {data} is the data folder


BENCHMARKS = (
    Benchmark("seeds-dev", "seeds_dev, end-to-end over the seeds index", ("eval/seeds_dev.jsonl",)),
    Benchmark("mlqa-de-reader", "MLQA de-de dev (512 q), reader on the gold paragraph",
              ("{data}/mlqa_de_de_dev/mlqa.dev.de-de.jsonl", "--mode", "reader")),
    Benchmark("mlqa-de-e2e", "MLQA de-de dev, end-to-end over its 456 paragraphs",
              ("{data}/mlqa_de_de_dev/mlqa.dev.de-de.jsonl", "--corpus-from-dataset")),
    Benchmark("xquad-de-reader", "XQuAD-de held-out articles 40-47 (177 q), reader on the gold paragraph",
              ("{data}/xquad/xquad.de.json", "--articles", "40-47", "--mode", "reader")),
    Benchmark("xquad-de-e2e", "XQuAD-de 40-47, end-to-end over all 240 paragraphs",
              ("{data}/xquad/xquad.de.json", "--articles", "40-47", "--corpus-from-dataset")),
    Benchmark("xquad-en-de-reader", "XQuAD 40-47, English questions over German paragraphs, reader",
              ("{data}/xquad/xquad.de.json", "--questions-from", "{data}/xquad/xquad.en.json",
               "--articles", "40-47", "--mode", "reader")),
    Benchmark("xquad-en-de-e2e", "XQuAD 40-47, English questions, end-to-end over the 240 German paragraphs",
              ("{data}/xquad/xquad.de.json", "--questions-from", "{data}/xquad/xquad.en.json",
               "--articles", "40-47", "--corpus-from-dataset")),
    Benchmark("germanquad-retrieval", "GermanQuAD test (2204 q), retrieval over its 474 passages",
              ("{data}/germanquad_test_retrieval_mteb", "--mode", "retrieval", "--corpus-from-dataset")),
)

PUBLISHED = """Published figures for comparison (trained on 87k English SQuAD questions; ours on 1k
XQuAD questions in 12 languages, articles 0-39), reader on the gold paragraph:

| model | MLQA de-de F1 / EM | XQuAD-de F1 / EM |
|---|---|---|
| mBERT | 57.9 / 44.3 | 70.6 / 54.0 |
| XLM-R base | 60.9 / 46.7 | - |
| XLM-R large | - | 80.4 / 63.4 |
| e5-small-qa-de (its model card) | 46.5 / 30.5 | 57.2 / 40.1 |

MLQA's figures are on its test set (ours: dev). XQuAD's published figures are on all 48
articles (ours: the 8 held-out ones)."""


def command_line(bench: Benchmark, data_dir: Path, extra: list[str]) -> list[str]:
    display = os.path.relpath(data_dir, REPO) if data_dir.is_absolute() else str(data_dir)
    args = [a.replace("{data}", str(data_dir)) for a in bench.args]
    shown = [a.replace("{data}", display) for a in bench.args]
    out = ["--out", str(RUNS.relative_to(REPO) / bench.name)]
    return ["eval", *args, *extra, *out], ["qa", "eval", *shown, *extra, *out]


def _f(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _recall_at_depth(bench: Benchmark, retrieval: dict) -> str:
    """recall@k for the k the run retrieved (end-to-end runs use the product's k), from its predictions."""
    if not retrieval:
        return "-"
    depth = retrieval["depth"]
    if f"recall@{depth}" in retrieval:
        return f"{_f(retrieval[f'recall@{depth}'])} (k={depth})"
    lines = (RUNS / bench.name / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    judged = [p for p in map(json.loads, lines) if p["answers"] != []]
    found = sum(p["first_relevant_rank"] is not None for p in judged)
    return f"{_f(100 * found / len(judged) if judged else None)} (k={depth})"


def render_section() -> str:
    rows = []
    for bench in BENCHMARKS:
        path = RUNS / bench.name / "metrics.json"
        if not path.exists():
            continue
        m = json.loads(path.read_text(encoding="utf-8"))
        answers, retrieval, abstention, latency = (m.get("answers") or {}, m.get("retrieval") or {},
                                                   m.get("abstention") or {}, m["latency_ms"])
        abst = "-"
        if abstention:
            abst = (f"{_f(abstention['correctly_abstained'])} / {_f(abstention['wrongly_abstained'])}"
                    if abstention["no_answer_questions"] else f"- / {_f(abstention['wrongly_abstained'])}")
        rows.append("| {label} | {n} | {em} / {f1} | {emd} / {f1d} | {r1} / {r5} | {mrr} | {ab} | {p50} / {p95} | `{cmd}` |".format(
            label=bench.label, n=m["run"]["questions"],
            em=_f(answers.get("em")), f1=_f(answers.get("f1")),
            emd=_f(answers.get("em_de")), f1d=_f(answers.get("f1_de")),
            r1=_f(retrieval.get("recall@1")), r5=_recall_at_depth(bench, retrieval),
            mrr=_f(retrieval.get("mrr@5"), 3),
            ab=abst, p50=_f(latency["p50"], 0), p95=_f(latency["p95"], 0),
            cmd=m["run"].get("command", ""),
        ))
    header = (
        "Written by `python -m benchmarks.eval_benchmarks` (each row's own command is in the last\n"
        "column; run folders with per-question predictions and report.html in runs/bench/).\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores shared with other work, so latency\n"
        "is indicative. EM/F1 in SQuAD normalisation and MLQA's German one; recall@n = share of\n"
        "questions with a relevant passage in the top n, k = passages retrieved (the gold paragraph for dataset corpora,\n"
        "else a passage containing a gold answer); abstention = correctly abstained on no-answer /\n"
        "wrongly abstained on answerable questions, in %. Reader defaults: builtin e5-small-qa-de.\n\n"
        "| benchmark | n | EM / F1 | EM / F1 (de) | R@1 / R@k | MRR@5 | abstention | p50 / p95 ms | command |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    return header + ("\n".join(rows) if rows else "(no runs yet)") + "\n\n" + PUBLISHED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=None, help="comma-separated benchmark names (see --list)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None,
                        help="first N questions only (a smoke run; the section is not updated)")
    parser.add_argument("--list", action="store_true", help="print the benchmarks and their commands")
    parser.add_argument("--render-only", action="store_true",
                        help="rebuild the section from the run folders present, run nothing")
    args = parser.parse_args(argv)
    if args.render_only:
        print(f"updated the section {SECTION!r} of {update_section(SECTION, render_section())}")
        return 0

    chosen = BENCHMARKS
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {b.name for b in BENCHMARKS}
        if unknown:
            parser.error(f"unknown benchmark(s) {sorted(unknown)}; see --list")
        chosen = tuple(b for b in BENCHMARKS if b.name in wanted)
    extra = [] if args.limit is None else ["--limit", str(args.limit)]
    if args.list:
        for bench in chosen:
            print(f"{bench.name:22s} {shlex.join(command_line(bench, args.data_dir, extra)[1])}")
        return 0

    from qa.commands.main import main as qa_main

    os.chdir(REPO)
    failed = []
    for bench in chosen:
        argv_run, shown = command_line(bench, args.data_dir, extra)
        print(f"\n=== {bench.name}: {shlex.join(shown)}", flush=True)
        started = time.perf_counter()
        code = qa_main(argv_run)
        if code != 0:
            failed.append(bench.name)
            continue
        metrics_path = RUNS / bench.name / "metrics.json"
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        metrics["run"]["command"] = shlex.join(shown)
        with atomic_file(metrics_path) as tmp:
            tmp.write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"=== {bench.name} done in {time.perf_counter() - started:.0f} s", flush=True)
    if args.limit is None:
        path = update_section(SECTION, render_section())
        print(f"\nupdated the section {SECTION!r} of {path}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
