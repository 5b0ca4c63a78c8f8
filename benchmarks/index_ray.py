"""Indexing throughput: chunking + embedding in one process against Ray with 1 and 2 workers.

    flock -x /tmp/cpu.lock python -m benchmarks.index_ray [--articles 60] [--backends torch,openvino] [--no-write]

The same 10kGNAD test articles (rows 100 on) go through each ``CorpusEncoder`` that
``build_index`` can be given: ``encode_locally`` (what ``qa index`` does) and
``RayCorpusEncoder`` (what ``qa index --ray`` does) with 1 worker (all CPUs) and 2 workers (the
CPUs shared out), for each backend. Chunks/s counts the encoder call: for Ray that includes
starting the actors and loading the model in each (the local Ray itself is started once, before,
and its start time is reported apart). Every encoder's chunks and vectors are checked against
the local ones.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.index_gnad import GNAD, read_gnad  # noqa: E402
from benchmarks.report import positive_int, update_section  # noqa: E402

TITLE = "Indexing throughput on Ray"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=positive_int, default=60)
    parser.add_argument("--backends", default="torch,openvino")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)

    import ray

    from embeddings.cache import default_cache_dir
    from embeddings.documents import Document
    from embeddings.encoder import load_embedder
    from embeddings.indexing import encode_locally
    from embeddings.ray_indexing import RayCorpusEncoder, ray_init_options

    started = time.perf_counter()
    documents = [Document(doc_id=f"gnad-{100 + i}.txt", title="", text=text)
                 for i, (_, text) in enumerate(read_gnad(GNAD, 100 + args.articles)[100:])]
    characters = sum(len(d.text) for d in documents)
    options = dict(max_tokens=200, overlap=1, show_progress=False)
    t0 = time.perf_counter()
    ray.init(**ray_init_options())
    ray_start = time.perf_counter() - t0
    cpus = int(ray.cluster_resources().get("CPU", 0))
    load_before = os.getloadavg()
    rows, reference = [], None
    try:
        for backend in args.backends.split(","):
            embedder = load_embedder("e5-small", backend=backend)
            runs = [("one process", encode_locally)] + [
                (f"Ray, {n} worker{'s' * (n > 1)} × {cpus // n} CPU{'s' * (cpus // n > 1)}",
                 RayCorpusEncoder(model="e5-small", backend=backend, cache_dir=default_cache_dir(), workers=n))
                for n in (1, 2)]
            for label, encoder in runs:
                t0 = time.perf_counter()
                chunks, vectors = encoder(documents, embedder, **options)
                seconds = time.perf_counter() - t0
                if reference is None:
                    reference = (chunks, vectors)
                same_chunks = chunks == reference[0]
                cosine = float(np.sum(vectors * reference[1], axis=1).min()) if same_chunks else float("nan")
                rows.append(f"| {backend} | {label} | {len(chunks)} | {seconds:.1f} | {len(chunks) / seconds:.1f} | "
                            f"{'yes' if same_chunks else 'NO'} | {cosine:.6f} |")
                print(rows[-1], flush=True)
    finally:
        ray.shutdown()
    load_after = os.getloadavg()
    markdown = f"""Command: `flock -x /tmp/cpu.lock python -m benchmarks.index_ray --articles {args.articles} --backends {args.backends}` \
({time.perf_counter() - started:.0f} s, {os.cpu_count()} CPUs, Ray {ray.__version__})

{len(documents)} 10kGNAD test articles (rows 100-{99 + len(documents)}, {characters / 1e6:.2f} M characters),
chunked (200-token budget, 1 sentence overlap) and embedded by each `CorpusEncoder` that `build_index` takes:
`encode_locally` (`qa index`) and `RayCorpusEncoder` (`qa index --ray`, a local Ray with {cpus} CPUs,
started once before in {ray_start:.1f} s). Ray's time includes starting its actors and loading the
model in each (a few seconds), so small corpora understate what a long run gets. Same chunks and
min cosine: against the first row's. Load average (1/5/15 min) before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, \
after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f}.

| backend | where | chunks | seconds | chunks/s | same chunks | min cosine |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
    print(markdown)
    if not args.no_write:
        print(f"wrote {update_section(TITLE, markdown)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
