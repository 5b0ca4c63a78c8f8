"""One contract for both stores: the embedded index folder (FAISS + bm25s) and PostgreSQL
(pgvector + german full text), on the fake embedder and a real private PostgreSQL
(tests/conftest.py: pg_server, pg_url).

Known differences, and how the tests allow for them:
- dense search: FAISS flat is exact, pgvector HNSW approximate; on these small corpora both find
  the same chunks with the same cosines (compared to 1e-5);
- keyword search: bm25s over PyStemmer stems, our stop list and compound splitting vs BM25 in
  SQL over PostgreSQL's german lexemes (its own stop list, no compound splitting): scores
  differ, so only the best hit of distinctive questions is compared, and hybrid order may differ
  below the top.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from embeddings.errors import QAError
from embeddings.indexing import open_index
from embeddings.store import CORPUS_CHANGED
from embeddings.targets import open_target
from qa.settings import REPO_ROOT
from tests.fakes import FakeEmbedder, fake_system

SEEDS = REPO_ROOT / "seeds"
QUESTIONS = ["Wo finden die Gespräche der USA mit Russland statt?",
             "Wie viele Menschen sind im Donbass getötet worden?",
             "Was hat die Nato beschlossen?", "Sicherheitsgarantien für die Ukraine"]


def copy_seeds(folder: Path, count: int = 5) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(SEEDS.iterdir())[:count]:
        shutil.copy(name, folder / name.name)
    return folder


def article(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=["folder", "postgresql"])
def where(request, tmp_path) -> dict:
    """Settings for one store: ``index_dir`` always (the app's uploads), ``store`` for PostgreSQL."""
    if request.param == "folder":
        return {"index_dir": tmp_path / "index"}
    return {"index_dir": tmp_path / "index", "store": request.getfixturevalue("pg_url")}


def hits(system, question: str, k: int = 5) -> list[tuple[str, str]]:
    return [(h.chunk.doc_id, h.chunk.text) for h in system.search(question, k=k)]


def test_dense_search_finds_the_same_chunks_in_both_stores(tmp_path, pg_url):
    corpus = copy_seeds(tmp_path / "corpus")
    folder = fake_system(corpus, tmp_path / "index", mode="dense")
    database = fake_system(corpus, tmp_path / "index-pg", mode="dense", store=pg_url)
    assert database.status().index_kind == "pgvector-hnsw"
    vector = FakeEmbedder().encode_queries(["Nato Gipfel Sicherheit"])
    for question in QUESTIONS:
        assert hits(folder, question) == hits(database, question)
    a, b = folder.index.search(vector, k=8)[0], database.index.search(vector, k=8)[0]
    assert [i for i, _ in a] == [i for i, _ in b]      # same chunk ids: ids come from the manifest
    assert np.allclose([s for _, s in a], [s for _, s in b], atol=1e-5)
    ids = [i for i, _ in a]
    assert folder.index.similarities(vector[0], ids) == pytest.approx(database.index.similarities(vector[0], ids),
                                                                      abs=1e-5)


def test_keyword_and_hybrid_search_agree_on_the_best_hit(tmp_path, pg_url):
    corpus = copy_seeds(tmp_path / "corpus")
    article(corpus, "zz-kiew.txt", "Wasserwerk in Tschernihiw\n\nDas Wasserwerk von Tschernihiw wurde repariert.\n")
    for mode in ("bm25", "hybrid"):
        folder = fake_system(corpus, tmp_path / f"index-{mode}", mode=mode)
        database = fake_system(corpus, tmp_path / f"index-pg-{mode}", mode=mode, store=pg_url)
        for question in ["Wer hat das Wasserwerk in Tschernihiw repariert?", *QUESTIONS[:2]]:
            assert hits(folder, question, k=1) == hits(database, question, k=1), (mode, question)
        assert hits(database, "Tschernihiw", k=1)[0][0] == "zz-kiew.txt"
    assert database.index.search_bm25("der die das und", k=5) == []      # stop words only


def test_filters_are_honoured(tmp_path, where):
    corpus = copy_seeds(tmp_path / "corpus")
    system = fake_system(corpus, mode="hybrid", **where)
    doc = sorted(system.documents)[2]
    found = system.search(QUESTIONS[0], k=5, doc_ids=[doc])
    assert found and {h.chunk.doc_id for h in found} == {doc}
    assert system.index.search_bm25("Russland", k=5, doc_ids=[]) == []


def test_add_update_remove_equals_a_fresh_build(tmp_path, where):
    corpus = copy_seeds(tmp_path / "corpus", 4)
    system = fake_system(corpus, mode="hybrid", **where)
    incoming = tmp_path / "incoming"
    system.add([article(incoming, "neu.txt", "Neu\n\nDie Brücke von Cherson wurde gesprengt.\n")], show_progress=False)
    system.add([article(incoming, "neu.txt", "Neu\n\nDie Brücke von Cherson wurde wieder aufgebaut.\n")],
               show_progress=False)
    system.add([article(incoming, "zwei.txt", "Zwei\n\nIn Odessa tagt der Stadtrat.\n")], show_progress=False)
    gone = sorted(system.documents)[0]
    system.remove([gone])
    fresh_where = {k: v for k, v in where.items()}
    fresh_where["index_dir"] = tmp_path / "fresh-index"
    if "store" in where:   # a second database for the fresh build
        import psycopg

        with psycopg.connect(where["store"], autocommit=True) as conn:
            conn.execute("CREATE DATABASE fresh_build")
        fresh_where["store"] = where["store"].replace(urlsplit(where["store"]).path, "/fresh_build", 1)
    fresh = fake_system(corpus, mode="hybrid", **fresh_where)
    assert set(system.documents) == set(fresh.documents) and gone not in system.documents
    assert system.index.manifest.corpus_fingerprint == fresh.index.manifest.corpus_fingerprint
    assert sorted(c.text for c in system.index.chunks.values()) == sorted(c.text for c in fresh.index.chunks.values())
    assert "wieder aufgebaut" in system.documents["neu.txt"].text
    for question in [*QUESTIONS, "Brücke Cherson", "Stadtrat Odessa"]:
        for mode in ("dense", "bm25", "hybrid"):
            system.retriever.mode = fresh.retriever.mode = mode
            assert hits(system, question) == hits(fresh, question), (mode, question)
    # and the saved index says the same as the one in memory
    reopened = open_index(corpus, open_target(where["index_dir"], where.get("store")), FakeEmbedder(),
                          show_progress=False)
    assert reopened.state == "up to date" and len(reopened.index) == len(fresh.index), reopened.reasons


def test_a_changed_corpus_folder_is_seen_and_applied_in_place(tmp_path, where):
    corpus = copy_seeds(tmp_path / "corpus", 3)
    fake_system(corpus, **where)
    target = open_target(where["index_dir"], where.get("store"))
    edited = sorted(corpus.iterdir())[1]
    edited.write_text(edited.read_text(encoding="utf-8") + "\nEin neuer Absatz über Charkiw.\n", encoding="utf-8")
    article(corpus, "extra.txt", "Extra\n\nIn Lwiw fiel der Strom aus.\n")
    stale = open_index(corpus, target, FakeEmbedder(), allow_rebuild=False, show_progress=False)
    assert stale.reasons == (CORPUS_CHANGED,) and "extra.txt" not in stale.index.documents
    status = open_index(corpus, target, FakeEmbedder(), show_progress=False)
    assert status.state == "updated"
    assert status.changes.added == ("extra.txt",) and status.changes.updated == (edited.name,)
    assert open_index(corpus, target, FakeEmbedder(), show_progress=False).state == "up to date"


def test_unknown_documents_are_refused(tmp_path, where):
    system = fake_system(copy_seeds(tmp_path / "corpus", 3), **where)
    with pytest.raises(QAError, match="unknown document id"):
        system.remove(["nope.txt"])
    assert len(system.documents) == 3


def test_another_process_sees_a_change_at_its_next_question(tmp_path, where):
    corpus = copy_seeds(tmp_path / "corpus", 3)
    app, cli = fake_system(corpus, **where), fake_system(corpus, **where)
    cli.add([article(tmp_path / "in", "neu.txt", "Neu\n\nDie Brücke von Cherson wurde gesprengt.\n")],
            show_progress=False)
    before = app.index.version
    assert before != cli.index.version
    app.search("Brücke Cherson", k=1)         # refresh happens before the search
    assert app.index.version == cli.index.version and "neu.txt" in app.documents
    assert app.refresh() is False             # nothing new since


def test_titles_read_by_an_older_reader_are_relabelled_without_embedding(tmp_path, where):
    from dataclasses import replace
    from types import MappingProxyType

    from embeddings.indexing import CORPUS_FILES_READER

    corpus = copy_seeds(tmp_path / "corpus", 3)
    fresh = {d.doc_id: d for d in fake_system(corpus, **where).documents.values()}
    target = open_target(where["index_dir"], where.get("store"))
    with target.writer_lock():
        old = target.load()
        old.relabel_documents([replace(doc, title=doc.title.upper(), metadata=MappingProxyType({}))
                               for doc in old.documents.values()])
        old.manifest = replace(old.manifest, extra=MappingProxyType(
            {k: v for k, v in old.manifest.extra.items() if k != CORPUS_FILES_READER}))
        target.save(old)
    assert {d.title for d in target.load().documents.values()} == {d.title.upper() for d in fresh.values()}
    embedder = FakeEmbedder()
    renewed = open_index(corpus, target, embedder, show_progress=False)
    assert renewed.changes.relabelled == tuple(sorted(fresh)) and embedder.passages_encoded == 0
    assert dict(target.load().documents.items()) == fresh
