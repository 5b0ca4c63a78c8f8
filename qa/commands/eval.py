"""``qa eval`` measures the system on a question set; ``qa eval-compare`` compares two runs."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from embeddings.errors import QAError
from qa.evaluation.compare import compare_runs, format_comparison
from qa.evaluation.datasets import EvalDataset, load_dataset, parse_articles
from qa.evaluation.metrics import summarise
from qa.evaluation.report import check_out_dir, format_summary, load_run, write_run
from qa.evaluation.runner import MODES, RunConfig, check_runnable, evaluate
from qa.settings import Settings, add_reader_option, folder_argument, settings_from_args
from qa.system import QASystem, check_limits

log = logging.getLogger(__name__)

# What each mode loads: the reader alone for "reader", no reader for "retrieval".
LOAD_PARTS = {"end-to-end": "all", "reader": "reader", "retrieval": "retrieval"}


def system_name(system: QASystem, dataset: EvalDataset, *, from_dataset: bool) -> str:
    """"pipeline over index/, reader X", or "... over the dataset's N contexts"."""
    name = system.describe()
    if from_dataset and system.retriever is not None:
        name = name.replace(f"over {system.settings.index_dir}", f"over the dataset's {len(dataset.documents)} contexts")
    return name


# ---------------------------------------------------------------------------------------

def register(subparsers) -> None:
    run = subparsers.add_parser(
        "eval", help="measure the system on a question set (EM/F1, retrieval, abstention and its "
                     "risk-coverage curve, latency)",
        description="Ask every question of DATASET and score the answers. DATASET is a SQuAD "
                    "JSON file (v1.1/v2.0), a JSONL question set ({\"id\", \"question\", \"answers\": "
                    "[...]} per line; [] = no answer in the corpus), MLQA's JSONL, or a BEIR/MTEB "
                    "retrieval folder (corpus.jsonl, queries.jsonl, qrels/test.tsv).")
    run.add_argument("dataset", type=Path, metavar="DATASET", help="question set file or retrieval folder")
    run.add_argument("--mode", choices=MODES, default="end-to-end",
                     help="end-to-end: retrieve, read, answer (default); reader: read the gold context "
                          "only; retrieval: retrieval metrics only")
    run.add_argument("--corpus-from-dataset", action="store_true",
                     help="index the dataset's own contexts (one document per paragraph) as the corpus")
    run.add_argument("--articles", default=None, metavar="SPEC",
                     help="SQuAD files: ask only the questions of these articles (0-based), e.g. 40-47")
    run.add_argument("--questions-from", type=Path, default=None, metavar="FILE",
                     help="SQuAD file whose questions are asked over DATASET's contexts, paired by id "
                          "(e.g. xquad.en.json questions over xquad.de.json)")
    run.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N questions")
    run.add_argument("--k", type=int, default=None, help="passages retrieved per question (default 3)")
    run.add_argument("--top-n", type=int, default=1, help="answers asked for per question (default 1; the first is scored)")
    run.add_argument("--index-dir", type=folder_argument, default=None, help="the index to use (default: index/)")
    run.add_argument("--store", default=None, metavar="URL",
                     help="the index in PostgreSQL (postgresql://user:password@host:port/db; default $QA_STORE)")
    run.add_argument("--corpus", dest="corpus_dir", type=folder_argument, default=None,
                     help="the articles that index was built from (default: seeds/ or $QA_CORPUS_DIR); "
                          "an index over another corpus needs it, or it is brought up to date with seeds/")
    add_reader_option(run)
    run.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="write metrics.json, predictions.jsonl and report.html into DIR (atomically)")
    run.add_argument("--json", action="store_true", help="print metrics.json's object instead of the table")
    run.set_defaults(handler=run_eval)

    compare = subparsers.add_parser(
        "eval-compare", help="compare two qa eval --out folders",
        description="Metric deltas (B - A), the selective figures (AURC, coverage at 90 % precision, "
                    "tier shares, F1 never refusing) included; the questions whose outcome changed: EM "
                    "flipped, abstention flipped, or F1 moved by more than 0.5; and the questions whose "
                    "tier (confident, uncertain, none) changed.")
    compare.add_argument("run_a", type=Path, metavar="RUN_A")
    compare.add_argument("run_b", type=Path, metavar="RUN_B")
    compare.add_argument("--json", action="store_true", help="print one JSON object")
    compare.set_defaults(handler=run_compare)


def run_eval(args: argparse.Namespace) -> int:
    settings = settings_from_args(args).replace(top_n=args.top_n)
    if settings.corpus_dir is not None and not Path(settings.corpus_dir).is_dir():
        raise QAError(f"--corpus {settings.corpus_dir}: no such folder; give the folder of articles "
                      "the index was built from")
    # Everything a user can get wrong is checked before any model loads or file is written.
    check_limits(k=settings.k, top_n=args.top_n)   # the system's own limits, or every question fails
    articles = None if args.articles is None else parse_articles(args.articles)
    dataset = load_dataset(args.dataset, articles=articles, questions_from=args.questions_from, limit=args.limit)
    if args.out is not None:
        check_out_dir(args.out)
    if args.corpus_from_dataset and not dataset.documents:
        raise QAError(f"{args.dataset}: --corpus-from-dataset needs contexts, and this {dataset.format} "
                      "set has none; index a corpus with qa index instead")
    if dataset.format == "qrels" and not args.corpus_from_dataset:
        raise QAError(f"{args.dataset}: qrels judge passages by their ids, so add --corpus-from-dataset")
    config = RunConfig(mode=args.mode, k=settings.k, top_n=args.top_n,
                       relevance="document" if args.corpus_from_dataset else "answer")
    check_runnable(dataset, config)
    log.info("qa eval: %d questions from %s (%s), mode %s, k=%d, top_n=%d; settings:\n%s",
             len(dataset.questions), dataset.path, dataset.format, config.mode, config.k, config.top_n,
             settings.describe())

    started = time.perf_counter()
    documents = dataset.documents if args.corpus_from_dataset else None
    system = args.load_system(settings, parts=LOAD_PARTS[config.mode], documents=documents)
    loaded = time.perf_counter()
    results = evaluate(dataset, config, pipeline=system if config.mode == "end-to-end" else None,
                       reader=system if config.mode == "reader" else None,
                       retriever=system if config.mode != "reader" else None)
    metrics = summarise(results, config, run=describe_run(args, dataset, system, settings, articles=articles,
                                                          load_s=loaded - started,
                                                          run_s=time.perf_counter() - loaded))
    if args.out is not None:
        write_run(args.out, metrics, results)
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False, indent=2))
    else:
        print(format_summary(metrics))
        if args.out is not None:
            print(f"\nwrote {args.out}/metrics.json, predictions.jsonl, report.html")
    return 0


def describe_run(args: argparse.Namespace, dataset: EvalDataset, system: QASystem, settings: Settings,
                 *, articles: frozenset[int] | None, load_s: float, run_s: float) -> dict[str, Any]:
    return {
        "dataset": str(dataset.path),
        "dataset_name": dataset.name,
        "format": dataset.format,
        "articles": None if articles is None else _ranges(sorted(articles)),
        "questions_from": None if args.questions_from is None else str(args.questions_from),
        "limit": args.limit,
        "corpus": "gold paragraph" if args.mode == "reader" else
                  "dataset" if args.corpus_from_dataset else system.target.name,
        "system": system_name(system, dataset, from_dataset=args.corpus_from_dataset),
        "retrieval_mode": system.status().mode,
        "embedding_model": settings.embedding_model,
        "reader_model": settings.reader_model,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_s": round(load_s, 2),
        "run_s": round(run_s, 2),
    }


def _ranges(numbers: list[int]) -> str:
    """[40, 41, 42, 47] → "40-42,47"."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def run_compare(args: argparse.Namespace) -> int:
    metrics_a, predictions_a = load_run(args.run_a)
    metrics_b, predictions_b = load_run(args.run_b)
    comparison = compare_runs(metrics_a, predictions_a, metrics_b, predictions_b)
    if args.json:
        from dataclasses import asdict

        payload = asdict(comparison)
        for item in payload["metrics"]:
            item["delta"] = None if item["a"] is None or item["b"] is None else item["b"] - item["a"]
        print(json.dumps({"run_a": str(args.run_a), "run_b": str(args.run_b), **payload}, ensure_ascii=False, indent=2))
    else:
        print(format_comparison(comparison, label_a=str(args.run_a), label_b=str(args.run_b)))
    return 0
