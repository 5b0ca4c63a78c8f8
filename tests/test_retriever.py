import logging

import pytest

from embeddings.indexing import build_index
from embeddings.documents import Document
from qa.errors import QAError
from qa.retriever import Retriever
from tests.fakes import FakeEmbedder

DOCS = [
    Document(doc_id="genf.txt", title="Gespräche in Genf", text="Die USA sprechen in Genf mit Russland über Sicherheit.",
             metadata={"outlet": "dpa"}),
    Document(doc_id="nato.txt", title="Nato-Gipfel", text="Der Nato-Gipfel in Vilnius berät über die Ukraine."),
]


@pytest.fixture()
def retriever():
    emb = FakeEmbedder()
    return Retriever(build_index(DOCS, emb, max_tokens=50, overlap=0, show_progress=False), emb)


def test_hits_are_ranked_with_titles_metadata_and_exact_offsets(retriever):
    hits = retriever.search("Wo sprechen die USA mit Russland? Genf", k=2)
    assert [h.rank for h in hits] == [1, 2]
    assert hits[0].doc_id == "genf.txt" and hits[0].title == "Gespräche in Genf"
    assert hits[0].metadata["outlet"] == "dpa"
    assert hits[0].score >= hits[1].score
    for hit in hits:
        assert retriever.documents[hit.doc_id].text[hit.chunk.start:hit.chunk.end] == hit.chunk.text


def test_filter_by_document(retriever):
    hits = retriever.search("Genf Russland", k=5, doc_ids=["nato.txt"])
    assert {h.doc_id for h in hits} == {"nato.txt"}
    with pytest.raises(QAError, match="unknown document"):
        retriever.search("Genf", k=5, doc_ids=["missing.txt"])


@pytest.mark.parametrize("question", ["", "   \n\t", None, 42])
def test_bad_questions_are_clear_errors(retriever, question):
    with pytest.raises(QAError):
        retriever.search(question, k=3)


def test_k_must_be_positive(retriever):
    with pytest.raises(QAError, match="k must be"):
        retriever.search("Genf", k=0)


def test_overlong_question_warns_and_still_searches(retriever, caplog):
    with caplog.at_level(logging.WARNING):
        hits = retriever.search("Genf " * 500, k=1)
    assert hits and "only the first" in caplog.text


@pytest.mark.slow
def test_real_e5_finds_the_donbass_passage_in_german_and_english(seeds_retriever):
    german = seeds_retriever.search("Wie viele Menschen sind im Donbass getötet worden?", k=5)
    assert "Mehr als 13 000 Menschen" in german[0].chunk.text
    english = seeds_retriever.search("How many people were killed in the Donbass?", k=5)
    assert any("Mehr als 13 000 Menschen" in h.chunk.text for h in english[:3])


@pytest.mark.slow
def test_real_e5_finds_geneva_talks(seeds_retriever):
    hits = seeds_retriever.search("Wo finden die Gespräche der USA mit Russland statt?", k=3)
    assert any("Genf" in h.chunk.text for h in hits)
