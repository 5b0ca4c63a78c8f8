"""Indexing through ``qa add`` in batches, and query latency, on 1028 German news articles (10kGNAD test).

    nice python -m benchmarks.index_gnad [--limit N] [--batch 128] [--queries 200] [--no-write]

Writes the articles as .txt files into batch folders of ``--batch`` articles, then runs
``qa add BATCH_FOLDER --corpus C --index-dir I`` for each (through ``qa.commands.main.main``, the same
code as the command line: the first call builds the index over the new corpus, the later ones
update it in place, each with its tqdm bar and its own model load). Reports articles, chunks,
wall time, chunks/s and CPU use ((user + sys CPU seconds) / wall seconds, from getrusage: about
2.0 means both cores were busy). Then times ``Retriever.search`` (encode + search) on the saved
index for GermanQuAD test questions, in dense and hybrid mode, and encoding alone.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.report import update_section  # noqa: E402

GNAD = REPO.parent / "shared" / "data" / "gnad10k" / "test.csv"
# Real German questions for the latency run (about other texts: latency does not care).
QUESTIONS = REPO.parent / "shared" / "data" / "germanquad_test_retrieval_mteb" / "queries.jsonl"
TITLE = "Indexing and search latency (10kGNAD)"


def read_gnad(path: Path, limit: int | None) -> list[tuple[str, str]]:
    """(label, text) rows of the 10kGNAD csv (``label;'text'``)."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";", quotechar="'"))
    return [(label, text) for label, text in rows[:limit]]


def read_questions(path: Path, n: int) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line, _ in zip(handle, range(n))]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def thread_cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + sys) of each thread of this process (Linux /proc; empty elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for task in Path("/proc/self/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return seconds


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def percentiles(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), float(np.percentile(values, 95))


def write_batches(articles: list[tuple[str, str]], folder: Path, batch: int) -> list[Path]:
    """One folder per ``batch`` articles, each article a .txt file named by its row and label."""
    folders = []
    for first in range(0, len(articles), batch):
        target = folder / f"batch-{first // batch:02d}"
        target.mkdir(parents=True)
        for i, (label, text) in enumerate(articles[first:first + batch], start=first):
            (target / f"gnad-{i:04d}-{label}.txt").write_text(text, encoding="utf-8")
        folders.append(target)
    return folders


def add_in_batches(folders: list[Path], corpus: Path, index_dir: Path) -> list[dict]:
    """``qa add`` each folder; chunks added, wall and CPU seconds per call."""
    from qa.commands.main import main as qa_main

    calls = []
    chunks_before = 0
    for folder in folders:
        wall, cpu = time.perf_counter(), cpu_seconds()
        code = qa_main(["add", str(folder), "--corpus", str(corpus), "--index-dir", str(index_dir)])
        if code != 0:
            raise SystemExit(f"qa add {folder} exited with {code}")
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        chunks = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["chunks"]
        calls.append({"articles": sum(1 for _ in folder.iterdir()), "chunks": chunks - chunks_before,
                      "wall": wall, "cpu": cpu})
        chunks_before = chunks
    return calls


def time_searches(retriever_by_mode: dict, embedder, questions: list[str], *, k: int) -> dict[str, list[float]]:
    """Milliseconds per question for each mode and for encoding alone; the order rotates per
    question so a burst of load from other users does not fall on one mode only."""
    for question in questions[:5]:  # warm-up: first calls allocate buffers
        for retriever in retriever_by_mode.values():
            retriever.search(question, k=k)
    timed = {name: [] for name in ("encode only", *retriever_by_mode)}
    names = list(timed)
    for i, question in enumerate(questions):
        for name in names[i % len(names):] + names[:i % len(names)]:
            started = time.perf_counter()
            if name == "encode only":
                embedder.encode_queries([question])
            else:
                retriever_by_mode[name].search(question, k=k)
            timed[name].append((time.perf_counter() - started) * 1000)
    return timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="index only the first N articles")
    parser.add_argument("--batch", type=int, default=128, help="articles per qa add call")
    parser.add_argument("--queries", type=int, default=200, help="timed questions per mode")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)

    import torch

    from embeddings.encoder import load_embedder
    from qa.retrieval.retriever import Retriever
    from qa.settings import Settings
    from qa.system import QASystem

    articles = read_gnad(GNAD, args.limit)
    questions = read_questions(QUESTIONS, args.queries)
    load_before = load_average()
    load_embedder("e5-small")  # once up front: builds the cached model if missing, warms the file cache
    started = time.perf_counter()
    load_embedder("e5-small")  # what each qa add call pays again, from a warm cache
    model_load = time.perf_counter() - started
    print(f"{len(articles)} articles, batches of {args.batch}; model load {model_load:.1f} s; "
          f"torch threads {torch.get_num_threads()} of {os.cpu_count()} CPUs; load average {load_before}",
          flush=True)

    with tempfile.TemporaryDirectory(prefix="qa-gnad-") as tmp:
        folders = write_batches(articles, Path(tmp) / "incoming", args.batch)
        corpus, index_dir = Path(tmp) / "corpus", Path(tmp) / "index"
        wall, cpu, per_thread = time.perf_counter(), cpu_seconds(), thread_cpu_seconds()
        calls = add_in_batches(folders, corpus, index_dir)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        # Which threads did the work: torch's intra-op pool shows as a second busy thread.
        busy = sorted((used - per_thread.get(tid, 0.0) for tid, used in thread_cpu_seconds().items()),
                      reverse=True)
        busy = [used for used in busy if used > 0.05 * cpu]
        load_after_index = load_average()
        threads = torch.get_num_threads()

        settings = Settings.from_env().replace(corpus_dir=corpus, index_dir=index_dir)
        system = QASystem.load(settings, parts="retrieval", show_progress=False)
        retriever, status = system.retriever, system.index_status
        index = retriever.index
        if status.state != "up to date" or len(index.documents) != len(articles):
            raise SystemExit(f"the saved index is {status.state} with {len(index.documents)} documents, "
                             f"expected up to date with {len(articles)}")
        embedder = retriever.embedder
        retrievers = {mode: Retriever(index, embedder, mode=mode) for mode in ("dense", "hybrid")}
        timed = time_searches(retrievers, embedder, questions, k=settings.k)
        chunks, kind = len(index), index.manifest.index_kind
    load_after = load_average()

    per_call = ", ".join(f"{c['wall']:.0f} ({c['chunks'] / c['wall']:.1f})" for c in calls)
    labels = {"encode only": "encoding the question alone (e5-small)",
              "dense": "Retriever.search, dense (encode + FAISS)",
              "hybrid": "Retriever.search, hybrid (encode + FAISS + BM25 + fusion; the default)"}
    rows = "\n".join(f"| {labels[name]} | {p50:.1f} | {p95:.1f} |"
                     for name, (p50, p95) in ((n, percentiles(v)) for n, v in timed.items()))
    text = "\n".join([
        f"- corpus: {len(articles)} articles of 10kGNAD test "
        f"({sum(len(t) for _, t in articles) / 1e6:.2f} M characters) → **{chunks} chunks** "
        f"({settings.chunk_tokens}-token budget, {settings.chunk_overlap} sentence overlap), {kind} FAISS "
        f"index + BM25",
        f"- `qa add` in {len(calls)} calls of up to {args.batch} articles (the first builds the index over "
        f"the new corpus, the others update it in place and save it): wall **{wall:.0f} s, "
        f"{chunks / wall:.1f} chunks/s** (all of it: model loads, splitting, chunking, embedding, BM25, "
        f"saving); per call, s (chunks/s): {per_call}. Each call loads the model again (about {model_load:.1f} s "
        f"from a warm cache) and loads, updates and saves the index.",
        f"- CPU use while indexing: {cpu:.0f} CPU s / {wall:.0f} wall s = **{cpu / wall:.2f} cores busy** "
        f"(torch {threads} threads on {os.cpu_count()} CPUs; 2.0 = both cores fully ours); "
        f"{len(busy)} threads did the work, CPU s each: {', '.join(f'{u:.0f}' for u in busy)}",
        f"- load average (1/5/15 min) before {load_before}, after indexing {load_after_index}, at the end "
        f"{load_after}: other people's jobs shared the 2 cores, so times are pessimistic",
        "",
        f"Query latency over {len(questions)} GermanQuAD test questions (k={settings.k}, after 5 warm-up "
        f"questions, one question at a time, modes interleaved):",
        "",
        "| what is timed | p50 ms | p95 ms |",
        "|---|---|---|",
        rows,
    ])
    print(text)
    if not args.no_write:
        options = "".join(f" --{name} {value}" for name, value, default in
                          (("limit", args.limit, None), ("batch", args.batch, 128), ("queries", args.queries, 200))
                          if value != default)
        update_section(TITLE, f"Command: `nice python -m benchmarks.index_gnad{options}`\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
