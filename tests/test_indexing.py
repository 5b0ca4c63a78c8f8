import pytest

from embeddings.indexing import open_index
from embeddings.errors import QAError
from tests.fakes import FakeEmbedder


def _corpus(folder, **articles):
    folder.mkdir(exist_ok=True)
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


ARTICLES = {
    "a.txt": "Gespräche in Genf\n\nIn Genf sprechen die USA mit Russland. Die Gespräche beginnen am 9. Januar.",
    "b.txt": "Nato-Gipfel\n\nDer Gipfel findet in Vilnius statt. Die Ukraine hofft auf Zusagen.",
}


def test_builds_then_reuses_then_updates_in_place_then_rebuilds_on_model_change(tmp_path):
    corpus = _corpus(tmp_path / "corpus", **ARTICLES)
    emb = FakeEmbedder()
    first = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    assert first.rebuilt and "no index" in first.reasons[0]
    for chunk in first.index.chunks.values():
        assert first.index.documents[chunk.doc_id].text[chunk.start:chunk.end] == chunk.text
    encoded = emb.passages_encoded
    second = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    assert not second.rebuilt and second.reasons == ()
    assert emb.passages_encoded == encoded  # nothing re-embedded
    (corpus / "b.txt").write_text(ARTICLES["b.txt"] + " Neu.", encoding="utf-8")
    stale = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, allow_rebuild=False,
                       show_progress=False)
    assert not stale.rebuilt and any("corpus changed" in r for r in stale.reasons)
    encoded = emb.passages_encoded
    third = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    # an edited article is applied in place: only its chunks are embedded again
    assert not third.rebuilt and third.updated and third.state == "updated"
    assert any("corpus changed" in r for r in third.reasons)
    assert third.changes.updated == ("b.txt",) and third.changes.unchanged == ("a.txt",)
    b_chunks = [c for c in third.index.chunks.values() if c.doc_id == "b.txt"]
    assert emb.passages_encoded - encoded == len(b_chunks) == third.changes.chunks_added
    assert any("Neu." in c.text for c in b_chunks)
    # a deleted article is dropped, and the saved index agrees with the folder afterwards
    (corpus / "a.txt").unlink()
    fourth = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    assert fourth.changes.removed == ("a.txt",) and set(fourth.index.documents) == {"b.txt"}
    again = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    assert again.state == "up to date" and set(again.index.documents) == {"b.txt"}
    changed_model = open_index(corpus, tmp_path / "idx", FakeEmbedder(fingerprint="fake-2"), max_tokens=40,
                               overlap=0, show_progress=False)
    assert changed_model.rebuilt and any("embedding model" in r for r in changed_model.reasons)


def test_empty_corpus_and_missing_index_are_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(QAError):
        open_index(empty, tmp_path / "idx", FakeEmbedder(), show_progress=False)
    corpus = _corpus(tmp_path / "corpus", **ARTICLES)
    with pytest.raises(QAError, match="qa index"):
        open_index(corpus, tmp_path / "idx", FakeEmbedder(), allow_rebuild=False, show_progress=False)


def test_index_kind_auto_is_flat_for_small_corpora_and_an_explicit_kind_rebuilds(tmp_path):
    corpus = _corpus(tmp_path / "corpus", **ARTICLES)
    emb = FakeEmbedder()
    flat = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    assert flat.index.manifest.index_kind == "flat" and flat.index.manifest.retrieval_mode == "hybrid"
    hnsw = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False,
                      index_kind="hnsw")
    assert hnsw.rebuilt and any("index type changed" in r for r in hnsw.reasons)
    assert hnsw.index.manifest.index_kind == "hnsw"
    assert not open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False,
                          index_kind="hnsw").rebuilt
    with pytest.raises(QAError, match="unknown index type"):
        open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False, index_kind="lsh")


def test_no_rebuild_never_touches_a_damaged_index(tmp_path):
    corpus = _corpus(tmp_path / "corpus", **ARTICLES)
    version = open_index(corpus, tmp_path / "idx", FakeEmbedder(), max_tokens=40, overlap=0,
                         show_progress=False).index.version
    (tmp_path / "idx" / version / "chunks.jsonl").write_text("{broken\n", encoding="utf-8")
    with pytest.raises(QAError, match="damaged"):
        open_index(corpus, tmp_path / "idx", FakeEmbedder(), max_tokens=40, overlap=0, allow_rebuild=False,
                   show_progress=False)


def test_an_index_from_an_older_metadata_reader_is_relabelled_without_embedding(tmp_path):
    """Titles and metadata read by an older version of embeddings/documents.py are renewed once
    (the files' size and mtime alone would keep them for ever), and nothing is embedded again."""
    from dataclasses import replace
    from types import MappingProxyType

    from embeddings.indexing import CORPUS_FILES_READER, RELABELLED
    from embeddings.store import ChunkIndex

    corpus = _corpus(tmp_path / "corpus", **ARTICLES)
    emb = FakeEmbedder()
    fresh = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False).index
    old = ChunkIndex.load(tmp_path / "idx")   # as an older reader saved it: other titles, no title_source
    old.relabel_documents([replace(doc, title=doc.title.upper(), metadata=MappingProxyType({}))
                           for doc in old.documents.values()])
    old.manifest = replace(old.manifest, extra=MappingProxyType(
        {k: v for k, v in old.manifest.extra.items() if k != CORPUS_FILES_READER}))
    old.save(tmp_path / "idx")
    encoded = emb.passages_encoded
    renewed = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    assert not renewed.rebuilt and renewed.changes.relabelled == ("a.txt", "b.txt")
    assert renewed.reasons == (RELABELLED,)  # not "the corpus changed": no article did
    assert renewed.changes.chunks_added == 0 and emb.passages_encoded == encoded
    assert renewed.index.documents == fresh.documents
    assert renewed.index.documents["a.txt"].metadata["title_source"] == "heading"
    assert ChunkIndex.load(tmp_path / "idx").documents == fresh.documents
    again = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    assert again.state == "up to date" and emb.passages_encoded == encoded


def test_an_update_says_what_changed(tmp_path):
    """The reason an update in place gives: an edited article, or only the files' record renewed."""
    from dataclasses import replace
    from types import MappingProxyType

    from embeddings.indexing import CORPUS_FILES_READER, RECORD_RENEWED
    from embeddings.store import CORPUS_CHANGED, ChunkIndex

    corpus = _corpus(tmp_path / "corpus", **ARTICLES)
    emb = FakeEmbedder()
    open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    old = ChunkIndex.load(tmp_path / "idx")   # the same documents, recorded by an older reader
    old.manifest = replace(old.manifest, extra=MappingProxyType(
        {k: v for k, v in old.manifest.extra.items() if k != CORPUS_FILES_READER}))
    old.save(tmp_path / "idx")
    renewed = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    assert renewed.reasons == (RECORD_RENEWED,) and not renewed.changes.changed
    (corpus / "a.txt").write_text(ARTICLES["a.txt"] + " Ein neuer Satz.", encoding="utf-8")
    edited = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    assert edited.reasons == (CORPUS_CHANGED,) and edited.changes.updated == ("a.txt",)


def test_an_article_indexed_with_its_header_lines_is_chunked_again_once(tmp_path):
    """Before METADATA_VERSION 3 header lines were chunked like text. An older index re-chunks
    (and embeds again) just the articles that have header lines; the others stay as they are."""
    from dataclasses import replace
    from types import MappingProxyType

    from embeddings.documents import BODY_START
    from embeddings.indexing import CORPUS_FILES_READER
    from embeddings.store import ChunkIndex

    headed = "URL: https://example.org/genf\nQuelle: dpa\n\n" + ARTICLES["a.txt"]
    corpus = _corpus(tmp_path / "corpus", **{"a.txt": headed, "b.txt": ARTICLES["b.txt"]})
    emb = FakeEmbedder()
    fresh = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    assert all("URL:" not in c.text for c in fresh.index.chunks.values())
    # the same index as the older reader made it: no body_start, the header in the first chunk
    old = open_index(corpus, tmp_path / "old", FakeEmbedder(), max_tokens=40, overlap=0, show_progress=False).index
    doc = old.documents["a.txt"]
    plain = replace(doc, metadata=MappingProxyType({k: v for k, v in doc.metadata.items() if k != BODY_START}))
    old.remove_documents(["a.txt"])
    old.add_documents([plain], *_encoded([plain], FakeEmbedder()))
    assert any(c.text.startswith("URL:") for c in old.chunks.values())
    old.manifest = replace(old.manifest, extra=MappingProxyType(
        {k: v for k, v in old.manifest.extra.items() if k != CORPUS_FILES_READER}))
    old.save(tmp_path / "old")
    renewed = open_index(corpus, tmp_path / "old", emb, max_tokens=40, overlap=0, show_progress=False)
    assert renewed.changes.updated == ("a.txt",) and renewed.changes.unchanged == ("b.txt",)
    assert sorted(c.text for c in renewed.index.chunks.values()) == sorted(c.text for c in fresh.index.chunks.values())
    assert ChunkIndex.load(tmp_path / "old").documents == fresh.index.documents


def _encoded(documents, embedder):
    from embeddings.indexing import encode_locally

    return encode_locally(documents, embedder, max_tokens=40, overlap=0, show_progress=False)


def test_relabelling_refuses_a_changed_text(tmp_path):
    from dataclasses import replace

    corpus = _corpus(tmp_path / "corpus", **ARTICLES)
    index = open_index(corpus, tmp_path / "idx", FakeEmbedder(), max_tokens=40, overlap=0, show_progress=False).index
    with pytest.raises(ValueError, match="same text"):
        index.relabel_documents([replace(index.documents["a.txt"], text="Anders.")])
