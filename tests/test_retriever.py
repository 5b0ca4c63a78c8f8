import logging

import pytest

from embeddings.indexing import build_index
from embeddings.documents import Document
from embeddings.errors import QAError
from qa.retrieval.retriever import Retriever
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


# ---- modes and metadata filters -------------------------------------------------------------

FILTER_DOCS = [
    Document(doc_id="a.txt", title="A", text="Gespräche in Genf über Sicherheit für Europa.",
             metadata={"outlet": "dpa", "date": "2023-05-01"}),
    Document(doc_id="b.txt", title="B", text="Sicherheitsgarantien für die Ukraine in Genf besprochen.",
             metadata={"outlet": "dpa-AFX", "date": "2025-09-04"}),
    Document(doc_id="c.txt", title="C", text="Genf bleibt Ort der Gespräche über Sicherheit.",
             metadata={"outlet": "Reuters"}),
    Document(doc_id="d.txt", title="D", text="Die Nato berät in Brüssel über Waffen.",
             metadata={"outlet": "DPA", "date": "2024-12-31"}),
]


@pytest.fixture()
def filter_index():
    emb = FakeEmbedder()
    return build_index(FILTER_DOCS, emb, max_tokens=50, overlap=0, show_progress=False), emb


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_finds_the_matching_document(filter_index, mode):
    index, emb = filter_index
    retriever = Retriever(index, emb, mode=mode)
    assert retriever.mode == mode
    hits = retriever.search("Nato Brüssel Waffen", k=2)
    assert hits[0].doc_id == "d.txt" and hits[0].rank == 1
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_score_scales_per_mode(filter_index):
    index, emb = filter_index
    dense = Retriever(index, emb, mode="dense").search("Genf Sicherheit", k=4)
    assert all(-1.0 <= h.score <= 1.0 for h in dense)
    bm25 = Retriever(index, emb, mode="bm25").search("Genf Sicherheit", k=4)
    assert all(h.score > 0 for h in bm25)  # raw BM25: > 0 for every returned chunk, unbounded
    assert [h.dense_score for h in bm25] != [h.score for h in bm25]
    hybrid = Retriever(index, emb, mode="hybrid").search("Genf Sicherheit", k=4)
    assert all(0 <= h.score <= 1 for h in hybrid)  # default: weighted sum of min-max scores
    assert hybrid[0].score == pytest.approx(1.0) or hybrid[0].score >= 0.8
    rrf = Retriever(index, emb, mode="hybrid", fusion={"method": "rrf", "rrf_k": 60}).search("Genf Sicherheit", k=4)
    assert all(0 < h.score <= 2 / 61 + 1e-9 for h in rrf)  # RRF with rrf_k = 60
    hybrid = hybrid + rrf
    # dense_score is the cosine in every mode, so abstention sees one scale
    cosine = {h.chunk.start + hash(h.doc_id): h.score for h in dense}
    for hit in bm25 + hybrid:
        assert hit.dense_score == pytest.approx(cosine[hit.chunk.start + hash(hit.doc_id)], abs=1e-6)
    assert all(h.dense_score == h.score for h in dense)


def test_unknown_mode_is_a_clear_error(filter_index):
    index, emb = filter_index
    with pytest.raises(QAError, match="retrieval mode"):
        Retriever(index, emb, mode="sparse")


def test_index_without_bm25_falls_back_to_dense_with_a_warning(caplog):
    emb = FakeEmbedder()
    index = build_index(FILTER_DOCS, emb, max_tokens=50, overlap=0, show_progress=False, bm25=False)
    with caplog.at_level(logging.WARNING):
        retriever = Retriever(index, emb, mode="hybrid")
    assert retriever.mode == "dense" and "no BM25" in caplog.text
    assert retriever.search("Genf", k=1)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_filters_by_outlet_and_date_range(filter_index, mode):
    index, emb = filter_index
    retriever = Retriever(index, emb, mode=mode)
    q = "Genf Sicherheit Gespräche"
    dpa = {h.doc_id for h in retriever.search(q, k=5, outlet="dpa")}  # "DPA" too, not "dpa-AFX"
    assert "a.txt" in dpa and dpa <= {"a.txt", "d.txt"}
    assert {h.doc_id for h in retriever.search(q, k=5, outlet=["DPA-afx", "reuters"])} == {"b.txt", "c.txt"}
    # undated c.txt is left out as soon as any date bound is given
    since = retriever.search(q, k=5, date_from="2024-01-01")
    assert {h.doc_id for h in since} <= {"b.txt", "d.txt"} and "b.txt" in {h.doc_id for h in since}
    assert {h.doc_id for h in retriever.search(q, k=5, date_to="2024-12-31")} <= {"a.txt", "d.txt"}
    both = retriever.search(q, k=5, date_from="2023-05-01", date_to="2023-05-01")
    assert {h.doc_id for h in both} == {"a.txt"}
    assert retriever.search(q, k=5, outlet="dpa", date_from="2025-01-01") == []
    assert {h.doc_id for h in retriever.search(q, k=5, doc_ids=["a.txt", "b.txt"], date_from="2025-01-01")} == {"b.txt"}


def test_filter_mistakes_are_clear_errors(filter_index):
    index, emb = filter_index
    retriever = Retriever(index, emb)
    with pytest.raises(QAError, match="YYYY-MM-DD"):
        retriever.search("Genf", date_from="04.09.2025")
    with pytest.raises(QAError, match="empty"):
        retriever.search("Genf", date_from="2025-01-01", date_to="2024-01-01")
    with pytest.raises(QAError, match="unknown document"):
        retriever.search("Genf", doc_ids=["z.txt"])
