import json

import numpy as np
import pytest

from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings.store import ChunkIndex, IndexManifest, corpus_fingerprint
from qa.errors import QAError
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
    index.save(tmp_path / "idx")
    (tmp_path / "idx" / "chunks.jsonl").write_text('{"id": 0}\n', encoding="utf-8")
    with pytest.raises(QAError, match="rebuild"):
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
    assert json.loads(m.to_json())["format_version"] == 1


def test_corpus_fingerprint_ignores_order_but_not_content():
    a = Document(doc_id="a", title="A", text="eins")
    b = Document(doc_id="b", title="B", text="zwei")
    assert corpus_fingerprint([a, b]) == corpus_fingerprint([b, a])
    assert corpus_fingerprint([a, b]) != corpus_fingerprint([a, Document(doc_id="b", title="B", text="zwei!")])
