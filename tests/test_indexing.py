import pytest

from embeddings.indexing import open_index
from qa.errors import QAError
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


def test_builds_then_reuses_then_rebuilds_on_change(tmp_path):
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
    third = open_index(corpus, tmp_path / "idx", emb, max_tokens=40, overlap=0, show_progress=False)
    assert third.rebuilt and any("corpus changed" in r for r in third.reasons)
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
