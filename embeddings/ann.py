"""FAISS indexes by corpus size: exact flat, HNSW graph, or compressed IVF-PQ, all with stable ids.

Every kind scores by inner product (cosine on the normalised e5 vectors) and stores vectors
under caller-chosen int64 ids, so chunks can be added and removed without renumbering:

- ``flat``: ``IndexIDMap2(IndexFlatIP)``. Exact. ``remove_ids`` works in place.
- ``hnsw``: ``IndexIDMap2(IndexHNSWFlat)``. Approximate, fast at 100k+ vectors. FAISS cannot
  delete from an HNSW graph, so ``VectorIndex.remove`` records tombstones: searches skip them
  through an ``IDSelector`` (exact k results, no over-fetching), and once tombstones exceed
  ``compact_ratio`` of the stored vectors the graph is rebuilt from the live vectors, which
  HNSW keeps uncompressed (``compact``). Re-adding a tombstoned id compacts first.
- ``ivfpq``: ``IndexIVFPQ`` with its own id lists (not wrapped: ``IndexIDMap``'s removal assumes
  the sub-index renumbers like a flat index, which IVF does not). Compressed to ``m`` bytes a
  vector; needs training on representative vectors before the first add; ``remove_ids`` works.
  Recall is limited by the compression: recall@10 vs exact was 0.30-0.37 with m=48 on the
  synthetic benchmark (m=96: 0.58, m=192: 0.86 in a quick check at 100k), so use it only when
  the vectors do not fit in memory.

Thresholds for ``choose_kind`` come from benchmarks/ann_scale.py (docs/BENCHMARKS.md).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Collection, Iterable

import faiss
import numpy as np

from embeddings.atomic import atomic_directory, atomic_file

KINDS = ("flat", "hnsw", "ivfpq")
# Exact flat search costs ~0.1 ms per 1000 vectors a query (0.34 ms at 10k, 9.6 ms at 100k,
# 127 ms at 1M here), so ~5 ms at 50k: still small next to encoding the question (~50 ms),
# and exact. Above it HNSW answers in < 0.3 ms at recall@10 ~0.99 (benchmarks/ann_scale.py).
FLAT_MAX_VECTORS = 50_000
HNSW_DEFAULTS = {"M": 32, "efConstruction": 80, "efSearch": 64}
INDEX_FILE = "vectors.faiss"
TOMBSTONES_FILE = "tombstones.json"


def make_index(kind: str, dim: int, *, n_expected: int | None = None, **params) -> faiss.Index:
    """A new, empty inner-product index of ``kind`` for ``dim``-d vectors with int64 ids.

    hnsw params: ``M``, ``efConstruction``, ``efSearch``. ivfpq params: ``nlist`` (default
    about sqrt(n_expected)), ``m`` (sub-quantisers, default dim/8: 48 bytes a 384-d vector),
    ``nbits`` (default 8), ``nprobe`` (default 16).
    """
    if dim <= 0:
        raise ValueError(f"dim must be positive, got {dim}")
    if kind == "flat":
        _no_params(kind, params)
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if kind == "hnsw":
        p = {**HNSW_DEFAULTS, **params}
        _no_params(kind, {k: v for k, v in p.items() if k not in HNSW_DEFAULTS})
        inner = faiss.IndexHNSWFlat(dim, int(p["M"]), faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = int(p["efConstruction"])
        inner.hnsw.efSearch = int(p["efSearch"])
        return faiss.IndexIDMap2(inner)
    if kind == "ivfpq":
        n = 10_000 if n_expected is None else max(int(n_expected), 1)
        nlist = int(params.pop("nlist", min(max(round(math.sqrt(n)), 16), 65_536)))
        m = int(params.pop("m", max(dim // 8, 1)))
        nbits = int(params.pop("nbits", 8))
        nprobe = int(params.pop("nprobe", 16))
        _no_params(kind, params)
        if dim % m:
            raise ValueError(f"ivfpq: m={m} must divide dim={dim}")
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
        index.nprobe = min(nprobe, nlist)
        return index  # faiss's Python wrapper keeps ``quantizer`` alive with the index
    raise ValueError(f"unknown index kind {kind!r}; use one of {', '.join(KINDS)}")


def _no_params(kind: str, params: dict) -> None:
    if params:
        raise ValueError(f"{kind}: unknown parameters {sorted(params)}")


def choose_kind(n_vectors: int, *, dim: int = 384, memory_budget_bytes: int | None = None) -> str:
    """``flat`` up to FLAT_MAX_VECTORS, ``hnsw`` above; ``ivfpq`` when the uncompressed
    vectors (plus HNSW's graph, ~M*2*4 bytes a vector) would not fit ``memory_budget_bytes``."""
    if n_vectors < 0:
        raise ValueError(f"n_vectors must not be negative, got {n_vectors}")
    kind = "flat" if n_vectors <= FLAT_MAX_VECTORS else "hnsw"
    if memory_budget_bytes is not None:
        per_vector = dim * 4 + (HNSW_DEFAULTS["M"] * 2 * 4 if kind == "hnsw" else 0) + 8
        if n_vectors * per_vector > memory_budget_bytes:
            return "ivfpq"
    return kind


def _inner(index: faiss.Index) -> faiss.Index:
    return faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index


def index_kind(index: faiss.Index) -> str:
    """The kind of an index made by ``make_index`` (also after ``read_index``)."""
    inner = _inner(index)
    if isinstance(inner, faiss.IndexHNSWFlat):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVFPQ):
        return "ivfpq"
    if isinstance(inner, faiss.IndexFlat):
        return "flat"
    raise ValueError(f"not an index made by make_index: {type(inner).__name__}")


def describe_index(index: faiss.Index) -> dict:
    """Kind, size and parameters, for the manifest and `qa index` output."""
    inner = _inner(index)
    info: dict = {"kind": index_kind(index), "dim": index.d, "vectors": int(index.ntotal)}
    if isinstance(inner, faiss.IndexHNSWFlat):
        info.update(M=int(inner.hnsw.nb_neighbors(1)), efConstruction=int(inner.hnsw.efConstruction),
                    efSearch=int(inner.hnsw.efSearch))
    elif isinstance(inner, faiss.IndexIVFPQ):
        info.update(nlist=int(inner.nlist), m=int(inner.pq.M), nbits=int(inner.pq.nbits),
                    nprobe=int(inner.nprobe), trained=bool(inner.is_trained))
    return info


def set_search_params(index: faiss.Index, *, ef_search: int | None = None,
                      nprobe: int | None = None) -> None:
    """Set HNSW ``efSearch`` or IVF ``nprobe`` (higher: better recall, slower queries)."""
    inner = _inner(index)
    if ef_search is not None:
        if not isinstance(inner, faiss.IndexHNSWFlat):
            raise ValueError(f"ef_search applies to hnsw, not {index_kind(index)}")
        inner.hnsw.efSearch = int(ef_search)
    if nprobe is not None:
        if not isinstance(inner, faiss.IndexIVF):
            raise ValueError(f"nprobe applies to ivfpq, not {index_kind(index)}")
        inner.nprobe = int(nprobe)


def write_index(index: faiss.Index, path: str | os.PathLike) -> None:
    """``faiss.write_index`` to a temp file next to ``path``, then rename over it."""
    with atomic_file(path) as tmp:
        faiss.write_index(index, str(tmp))


def read_index(path: str | os.PathLike) -> faiss.Index:
    """``faiss.read_index`` (which already returns the concrete class, e.g. IndexIDMap2)."""
    return faiss.read_index(str(path))


def _ids_array(ids: Iterable[int]) -> np.ndarray:
    return np.ascontiguousarray(np.fromiter((int(i) for i in ids), dtype=np.int64))


class VectorIndex:
    """A FAISS index plus HNSW tombstones: add, remove, search by stable int64 ids.

    ``allowed_ids`` on search restricts results (metadata filters) inside FAISS, so ``k``
    results come back whenever ``k`` allowed live vectors exist (for HNSW the graph search
    may still miss some when very few ids are allowed; the caller can fall back to exact
    search over the allowed vectors then).
    """

    def __init__(self, index: faiss.Index, *, tombstones: Iterable[int] = (),
                 compact_ratio: float = 0.25) -> None:
        self.index = index
        self.kind = index_kind(index)
        self.tombstones: set[int] = {int(i) for i in tombstones}
        self.compact_ratio = compact_ratio

    @classmethod
    def create(cls, kind: str, dim: int, *, n_expected: int | None = None, **params) -> "VectorIndex":
        return cls(make_index(kind, dim, n_expected=n_expected, **params))

    def __len__(self) -> int:
        """Live vectors (stored minus tombstoned)."""
        return int(self.index.ntotal) - len(self.tombstones)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def stored_ids(self) -> np.ndarray:
        """Ids stored in FAISS (tombstoned ones included), in storage order."""
        if isinstance(self.index, faiss.IndexIDMap2):
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)
        invlists = self.index.invlists
        parts = [faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                 for i in range(invlists.nlist) if invlists.list_size(i)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def live_ids(self) -> np.ndarray:
        ids = self.stored_ids()
        if self.tombstones:
            ids = ids[~np.isin(ids, _ids_array(self.tombstones))]
        return ids

    def train(self, vectors: np.ndarray) -> None:
        """Train an IVF-PQ index (no-op for the others); use a representative sample."""
        if not self.index.is_trained:
            self.index.train(_as_matrix(vectors, self.dim))

    def add(self, vectors: np.ndarray, ids: Iterable[int]) -> None:
        """Add vectors under ``ids`` (new ids; an untrained IVF-PQ trains on this batch)."""
        vectors = _as_matrix(vectors, self.dim)
        ids = _ids_array(ids)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(vectors)} vectors but {len(ids)} ids")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("duplicate ids in one add")
        if self.tombstones and np.isin(ids, _ids_array(self.tombstones)).any():
            self.compact()  # the old vector must go before its id can be reused
        if isinstance(self.index, faiss.IndexIDMap2) and self.index.ntotal:
            clash = ids[np.isin(ids, self.stored_ids())]
            if len(clash):
                raise ValueError(f"ids already present: {clash[:5].tolist()}; remove them first")
        if not self.index.is_trained:
            self.train(vectors)
        self.index.add_with_ids(vectors, ids)

    def remove(self, ids: Iterable[int]) -> int:
        """Remove vectors by id (tombstones for HNSW); unknown ids are ignored."""
        ids = _ids_array(ids)
        if len(ids) == 0:
            return 0
        if self.kind != "hnsw":
            return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))
        present = np.unique(ids[np.isin(ids, self.stored_ids())])
        new = [int(i) for i in present if int(i) not in self.tombstones]
        self.tombstones.update(new)
        if self.index.ntotal and len(self.tombstones) > self.compact_ratio * self.index.ntotal:
            self.compact()
        return len(new)

    def compact(self) -> None:
        """Rebuild an HNSW graph from its live vectors, dropping tombstones (O(n log n))."""
        if not self.tombstones:
            return
        inner = _inner(self.index)
        stored = self.stored_ids()
        keep = ~np.isin(stored, _ids_array(self.tombstones))
        vectors = inner.reconstruct_n(0, int(inner.ntotal))[keep] if inner.ntotal else np.zeros((0, self.dim))
        info = describe_index(self.index)
        fresh = make_index("hnsw", self.dim, M=info["M"], efConstruction=info["efConstruction"],
                           efSearch=info["efSearch"])
        if len(vectors):
            fresh.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), stored[keep])
        self.index = fresh
        self.tombstones = set()

    def search(self, queries: np.ndarray, *, k: int = 10,
               allowed_ids: Collection[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids, shape (n_queries, k); missing results have id -1 and score -inf."""
        queries = _as_matrix(queries, self.dim)
        if k <= 0 or self.index.ntotal == 0:
            return (np.full((len(queries), max(k, 0)), -np.inf, dtype=np.float32),
                    np.full((len(queries), max(k, 0)), -1, dtype=np.int64))
        selector = None
        if allowed_ids is not None:
            allowed = _ids_array(allowed_ids)
            if self.tombstones:
                allowed = allowed[~np.isin(allowed, _ids_array(self.tombstones))]
            selector = faiss.IDSelectorBatch(allowed)
        elif self.tombstones:
            selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(_ids_array(self.tombstones)))
        if selector is None:
            scores, ids = self.index.search(queries, k)
        else:
            scores, ids = self.index.search(queries, k, params=self._search_params(selector))
        scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
        return scores, ids

    def ranking(self, query: np.ndarray, *, k: int = 10,
                allowed_ids: Collection[int] | None = None) -> list[tuple[int, float]]:
        """One query's results as ``(id, score)``, best first: the input ``qa.retrieval.fusion`` takes."""
        scores, ids = self.search(query, k=k, allowed_ids=allowed_ids)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def _search_params(self, selector) -> faiss.SearchParameters:
        inner = _inner(self.index)
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=int(inner.hnsw.efSearch))
        elif self.kind == "ivfpq":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=int(inner.nprobe))
        else:
            params = faiss.SearchParameters(sel=selector)
        return params  # ``selector`` stays alive in the caller's frame during the search

    def save(self, directory: str | os.PathLike) -> None:
        """Write the index and its tombstones into ``directory``, swapped in atomically."""
        with atomic_directory(directory) as tmp:
            self.write(tmp)

    def write(self, directory: str | os.PathLike) -> None:
        """Write ``INDEX_FILE`` and ``TOMBSTONES_FILE`` into the existing folder ``directory``
        (not atomic: for a caller that publishes the folder itself, as ``ChunkIndex.save``)."""
        directory = Path(directory)
        faiss.write_index(self.index, str(directory / INDEX_FILE))
        (directory / TOMBSTONES_FILE).write_text(json.dumps(sorted(self.tombstones)), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "VectorIndex":
        """Read what ``save``/``write`` wrote. A damaged file raises RuntimeError (FAISS) or
        ValueError (the tombstones); the caller says what to do."""
        directory = Path(directory)
        index = read_index(directory / INDEX_FILE)
        tombstones_path = directory / TOMBSTONES_FILE
        tombstones = []
        if tombstones_path.exists():
            tombstones = json.loads(tombstones_path.read_bytes().decode("utf-8"))
            if not isinstance(tombstones, list):
                raise ValueError(f"{tombstones_path}: not a list of ids")
        return cls(index, tombstones=tombstones)


def _as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"expected vectors of shape (n, {dim}), got {vectors.shape}")
    return vectors
