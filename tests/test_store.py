import json

import numpy as np
import pytest

from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings.store import FORMAT_VERSION, ChunkIndex, IndexManifest, corpus_fingerprint
from embeddings.errors import QAError
from tests.fakes import FakeEmbedder


def _index(texts=("Gespräche in Genf", "Nato-Gipfel in Vilnius", "Waffen für die Ukraine")):
    docs = [Document(doc_id=f"d{i}.txt", title=f"T{i}", text=t, metadata={"outlet": "dpa"}) for i, t in enumerate(texts)]
    chunks = [Chunk(doc_id=d.doc_id, start=0, end=len(d.text), text=d.text, sentences=((0, len(d.text)),)) for d in docs]
    emb = FakeEmbedder()
    manifest = IndexManifest(model_name=emb.name, model_fingerprint=emb.fingerprint, dimension=emb.dimension,
                             chunking={"max_tokens": 50, "overlap": 0}, corpus_fingerprint=corpus_fingerprint(docs),
                             documents=len(docs), chunks=len(chunks))
    return ChunkIndex.from_vectors(documents=docs, chunks=chunks, vectors=emb.encode_passages([c.text for c in chunks]),
                                   manifest=manifest), emb


def test_search_finds_matching_chunk_and_filters_by_document():
    index, emb = _index()
    results = index.search(emb.encode_queries(["Genf Gespräche"]), k=3)[0]
    assert index.chunks[results[0][0]].doc_id == "d0.txt"
    assert [s for _, s in results] == sorted((s for _, s in results), reverse=True)
    only = index.search(emb.encode_queries(["Genf Gespräche"]), k=3, doc_ids=["d2.txt"])[0]
    assert [index.chunks[i].doc_id for i, _ in only] == ["d2.txt"]
    assert index.search(emb.encode_queries(["x"]), k=3, doc_ids=["nope"]) == [[]]


def test_save_and_load_round_trip(tmp_path):
    index, emb = _index()
    index.save(tmp_path / "idx")
    loaded = ChunkIndex.load(tmp_path / "idx")
    assert loaded.chunks == index.chunks
    assert loaded.documents == index.documents
    assert loaded.manifest == index.manifest
    q = emb.encode_queries(["Waffen Ukraine"])
    assert loaded.search(q, k=3) == index.search(q, k=3)
    # saving again over an existing index replaces it and leaves no temp folders behind
    index.save(tmp_path / "idx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_missing_and_damaged_index_are_clear_errors(tmp_path):
    with pytest.raises(QAError, match="qa index"):
        ChunkIndex.load(tmp_path / "nothing")
    index, _ = _index()
    version = index.save(tmp_path / "idx")
    (tmp_path / "idx" / version / "chunks.jsonl").write_text('{"id": 0}\n', encoding="utf-8")
    with pytest.raises(QAError, match="damaged.*rebuild"):
        ChunkIndex.load(tmp_path / "idx")
    (tmp_path / "idx" / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(QAError, match="manifest"):
        ChunkIndex.load(tmp_path / "idx")


def test_manifest_differences_name_what_changed():
    index, emb = _index()
    m = index.manifest
    same = dict(model_name=emb.name, model_fingerprint=emb.fingerprint, chunking={"max_tokens": 50, "overlap": 0},
                corpus_fingerprint=m.corpus_fingerprint)
    assert m.differences(**same) == []
    assert "embedding model" in m.differences(**{**same, "model_fingerprint": "other"})[0]
    assert "chunking" in m.differences(**{**same, "chunking": {"max_tokens": 60, "overlap": 0}})[0]
    assert "corpus" in m.differences(**{**same, "corpus_fingerprint": "x"})[0]
    assert json.loads(m.to_json())["format_version"] == FORMAT_VERSION


def test_corpus_fingerprint_ignores_order_but_not_content():
    a = Document(doc_id="a", title="A", text="eins")
    b = Document(doc_id="b", title="B", text="zwei")
    assert corpus_fingerprint([a, b]) == corpus_fingerprint([b, a])
    assert corpus_fingerprint([a, b]) != corpus_fingerprint([a, Document(doc_id="b", title="B", text="zwei!")])


def _many(n=400, dim=64, seed=3):
    rng = np.random.default_rng(seed)
    docs = [Document(doc_id=f"d{i:03d}.txt", title=f"T{i}", text=f"Text {i} über Thema {i % 7}") for i in range(n)]
    chunks = [Chunk(doc_id=d.doc_id, start=0, end=len(d.text), text=d.text, sentences=((0, len(d.text)),))
              for d in docs]
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return docs, chunks, vectors


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_every_index_kind_saves_loads_updates_and_filters(kind, tmp_path):
    docs, chunks, vectors = _many()
    manifest = IndexManifest(model_name="fake", model_fingerprint="f", dimension=64, chunking={},
                             corpus_fingerprint="", documents=0, chunks=0, index_kind=kind)
    index = ChunkIndex.from_vectors(documents=docs[:300], chunks=chunks[:300], vectors=vectors[:300],
                                    manifest=manifest)
    assert index.manifest.index_kind == kind and index.manifest.extra["faiss"]
    removed = index.remove_documents([d.doc_id for d in docs[:100]])
    new_ids = index.add_documents(docs[300:], chunks[300:], vectors[300:])
    assert removed == 100 and min(new_ids) == 300  # ids are never reused
    index.save(tmp_path / "idx")
    loaded = ChunkIndex.load(tmp_path / "idx")
    assert loaded.manifest == index.manifest and len(loaded) == 300
    assert loaded.manifest.corpus_fingerprint == corpus_fingerprint(docs[100:])
    query = vectors[350][None, :]
    top = loaded.search(query, k=5)[0]
    assert loaded.chunks[top[0][0]].doc_id == "d350.txt"
    only = loaded.search(query, k=3, doc_ids=["d120.txt", "d200.txt"])[0]
    assert {loaded.chunks[i].doc_id for i, _ in only} == {"d120.txt", "d200.txt"}
    assert loaded.search(query, k=3, doc_ids=["d001.txt"]) == [[]]  # removed
    assert loaded.search_bm25("Text 350", k=1)[0][0] == top[0][0]


def test_an_index_of_an_older_format_loads_and_says_rebuild(tmp_path):
    from tests.test_store_safety import save_flat

    index, emb = _index()
    index.bm25 = None  # format 1 had no BM25, and its files lay in the index folder itself
    data = json.loads(index.manifest.to_json())
    data["format_version"] = 1
    save_flat(index, tmp_path / "idx", manifest=data)
    old = ChunkIndex.load(tmp_path / "idx")
    assert old.bm25 is None
    reasons = old.manifest.differences(model_name=emb.name, model_fingerprint=emb.fingerprint,
                                       chunking={"max_tokens": 50, "overlap": 0},
                                       corpus_fingerprint=old.manifest.corpus_fingerprint)
    assert reasons and "index format 1" in reasons[0]


def test_bm25_rows_must_match_the_chunks(tmp_path):
    index, _ = _index()
    index.bm25.remove([0])
    index.save(tmp_path / "idx")
    with pytest.raises(QAError, match="damaged .BM25 has 2 rows for 3 chunks"):
        ChunkIndex.load(tmp_path / "idx")
