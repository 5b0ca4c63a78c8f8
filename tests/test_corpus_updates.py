"""The living corpus: in-place adds, updates and removes equal a fresh build; qa add/remove/list."""
import json
import shutil

import pytest

from embeddings.documents import Document
from embeddings.indexing import build_index, update_index
from embeddings.store import ChunkIndex
from qa.commands.main import main
from embeddings.errors import QAError
from qa.retrieval.retriever import Retriever
from tests.fakes import FakeEmbedder, LoaderSpy, fake_loader, fake_system
from qa.settings import REPO_ROOT

SEEDS = REPO_ROOT / "seeds"

ARTICLES = {
    "genf.txt": "Gespräche in Genf\n\nIn Genf sprechen die USA mit Russland über Sicherheit. Die Delegation "
                "leitet der Sondergesandte Witkoff. Beide Seiten nennen die Gespräche konstruktiv.",
    "nato.txt": "Nato-Gipfel in Vilnius\n\nDer Gipfel berät über Waffenlieferungen an die Ukraine. Kiew hofft "
                "auf eine klare Beitrittsperspektive. Die Bündnispartner streiten über den Zeitplan.",
    "donbass.txt": "Krieg im Donbass\n\nSeit 2014 sind im Donbass mehr als 13 000 Menschen getötet worden. "
                   "Die Waffenruhe hält selten länger als wenige Tage.",
    "garantien.txt": "Sicherheitsgarantien für Kiew\n\nEuropa erwägt Garantien für die Sicherheit der Ukraine. "
                     "Frankreich und Großbritannien wollen Truppen schicken. Polen zögert noch.",
    "sanktionen.txt": "Neue Sanktionen\n\nDie EU beschließt ein weiteres Sanktionspaket gegen Russland. "
                      "Betroffen sind Banken, Ölexporte und die Schattenflotte.",
}
QUESTIONS = ["Wo sprechen die USA mit Russland?", "Wie viele Menschen starben im Donbass?",
             "Sicherheitsgarantien für die Ukraine", "Sanktionen gegen Banken", "Gipfel in Vilnius Zeitplan",
             "Wer will Truppen schicken?"]


def doc(doc_id, text):
    title = text.split("\n", 1)[0]
    return Document(doc_id=doc_id, title=title, text=text, metadata={"outlet": "dpa"})


def results(retriever, question):
    """Search results without chunk ids: (doc_id, start, end, score rounded), all chunks deep."""
    hits = retriever.search(question, k=len(retriever.index))
    rows = [(h.doc_id, h.chunk.start, h.chunk.end, round(h.score, 5)) for h in hits]
    return sorted(rows, key=lambda r: (-r[3], r[0], r[1]))


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_adds_updates_and_removes_equal_a_fresh_build(kind, tmp_path):
    emb = FakeEmbedder(max_tokens=24)
    opts = dict(max_tokens=24, overlap=1, show_progress=False)
    index = build_index([doc(n, ARTICLES[n]) for n in ("genf.txt", "nato.txt", "donbass.txt")], emb,
                        index_kind=kind, **opts)
    seen_ids = set(index.chunks)

    def step(documents=(), remove=()):
        changes = update_index(index, list(documents), emb, remove=remove, show_progress=False)
        assert not (set(index.chunks) - set(seen_ids)) & seen_ids
        assert min(set(index.chunks) - seen_ids, default=max(seen_ids) + 1) > max(seen_ids)  # ids only grow
        seen_ids.update(index.chunks)
        return changes

    step([doc("garantien.txt", ARTICLES["garantien.txt"])])
    changed = step([doc("nato.txt", ARTICLES["nato.txt"].replace("Vilnius", "Washington")),
                    doc("genf.txt", ARTICLES["genf.txt"])])
    assert changed.updated == ("nato.txt",) and changed.unchanged == ("genf.txt",)
    step(remove=["donbass.txt"])
    step([doc("sanktionen.txt", ARTICLES["sanktionen.txt"]), doc("donbass.txt", ARTICLES["donbass.txt"])])
    step([doc("garantien.txt", ARTICLES["garantien.txt"] + " Die Türkei bietet Vermittlung an.")],
         remove=["genf.txt"])
    index.save(tmp_path / "idx")
    reloaded = ChunkIndex.load(tmp_path / "idx")

    final = [doc("nato.txt", ARTICLES["nato.txt"].replace("Vilnius", "Washington")),
             doc("donbass.txt", ARTICLES["donbass.txt"]), doc("sanktionen.txt", ARTICLES["sanktionen.txt"]),
             doc("garantien.txt", ARTICLES["garantien.txt"] + " Die Türkei bietet Vermittlung an.")]
    fresh = build_index(final, emb, index_kind=kind, **opts)
    assert index.manifest.corpus_fingerprint == fresh.manifest.corpus_fingerprint
    assert (index.manifest.documents, index.manifest.chunks) == (fresh.manifest.documents, fresh.manifest.chunks)
    assert sorted((c.doc_id, c.start, c.end) for c in index.chunks.values()) == \
        sorted((c.doc_id, c.start, c.end) for c in fresh.chunks.values())
    for mode in ("dense", "bm25", "hybrid"):
        for question in QUESTIONS:
            want = results(Retriever(fresh, emb, mode=mode), question)
            assert want, (mode, question)
            assert results(Retriever(index, emb, mode=mode), question) == want, (mode, question)
            assert results(Retriever(reloaded, emb, mode=mode), question) == want, (mode, question)


def test_unchanged_documents_are_not_embedded_again():
    emb = FakeEmbedder()
    docs = [doc(n, t) for n, t in ARTICLES.items()]
    index = build_index(docs, emb, max_tokens=40, overlap=0, show_progress=False)
    before = emb.passages_encoded
    changes = update_index(index, docs, emb, show_progress=False)
    assert emb.passages_encoded == before and not changes.changed
    assert len(changes.unchanged) == len(docs)


def test_remove_unknown_document_is_a_clear_error():
    emb = FakeEmbedder()
    index = build_index([doc("genf.txt", ARTICLES["genf.txt"])], emb, max_tokens=40, overlap=0,
                        show_progress=False)
    with pytest.raises(QAError, match="unknown document id.*nope.txt"):
        index.remove_documents(["nope.txt"])
    with pytest.raises(QAError, match="built with"):
        update_index(index, [doc("x.txt", "Text.")], FakeEmbedder(fingerprint="other"), show_progress=False)


# ---- qa add / remove / list ---------------------------------------------------------------

def qa(*argv: str) -> int:
    """``qa ARGV`` with the fake embedder, handed to QASystem.load by the loader ``main`` uses."""
    return main(list(argv), load_system=fake_loader())


@pytest.fixture()
def fake_cli(tmp_path):
    """A corpus of two articles and an index folder, for ``qa`` with the fake embedder."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("genf.txt", "nato.txt"):
        (corpus / name).write_text(ARTICLES[name], encoding="utf-8")
    return ["--corpus", str(corpus), "--index-dir", str(tmp_path / "idx")], corpus


def test_qa_add_copies_into_the_corpus_and_updates_in_place(fake_cli, tmp_path, capsys):
    opts, corpus = fake_cli
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "donbass.txt").write_text(ARTICLES["donbass.txt"], encoding="utf-8")
    (incoming / "nato.txt").write_text(ARTICLES["nato.txt"] + " Neu: ein Nachtrag.", encoding="utf-8")
    (incoming / "genf.txt").write_text(ARTICLES["genf.txt"], encoding="utf-8")
    (incoming / "broken.txt").write_bytes(b"\x00\x01binary")
    assert qa("-q", "add", str(incoming), *opts) == 0
    out = capsys.readouterr()
    line = out.out.strip()
    assert "added 1, updated 1, unchanged 1, skipped 1" in line and "3 documents" in line
    assert "index type flat" in line and "retrieval hybrid" in line
    assert "broken.txt" in out.err and "binary" in out.err
    assert (corpus / "donbass.txt").read_text(encoding="utf-8") == ARTICLES["donbass.txt"]
    assert "Nachtrag" in (corpus / "nato.txt").read_text(encoding="utf-8")
    assert not (corpus / "broken.txt").exists()
    # the index now agrees with the folder: qa index has nothing to do
    assert qa("-q", "index", str(corpus), "--index-dir", opts[3]) == 0
    assert "up to date" in capsys.readouterr().out
    # adding the same again changes nothing
    assert qa("-q", "add", str(incoming / "donbass.txt"), *opts) == 0
    assert "added 0, updated 0, unchanged 1, skipped 0" in capsys.readouterr().out

    assert qa("-q", "search", "Wie viele Menschen im Donbass getötet", *opts, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hits"][0]["doc_id"] == "donbass.txt" and data["retrieval"] == "hybrid"


def test_qa_remove_and_list(fake_cli, capsys):
    opts, corpus = fake_cli
    assert qa("-q", "list", *opts) == 2  # no index yet
    assert "qa index" in capsys.readouterr().err
    assert qa("-q", "index", str(corpus), "--index-dir", opts[3]) == 0
    capsys.readouterr()
    assert qa("-q", "list", "--json", *opts) == 0
    rows = json.loads(capsys.readouterr().out)["documents"]
    assert [r["doc_id"] for r in rows] == ["genf.txt", "nato.txt"]
    assert rows[0]["title"] == "Gespräche in Genf" and rows[0]["chars"] == len(ARTICLES["genf.txt"])
    assert all(r["chunks"] >= 1 for r in rows) and set(rows[0]) >= {"outlet", "date", "url"}
    assert qa("-q", "remove", "nope.txt", *opts) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown document id" in err[0] and "nope.txt" in err[0]
    assert qa("-q", "remove", "genf.txt", *opts) == 0
    assert "removed 1 documents" in capsys.readouterr().out
    assert not (corpus / "genf.txt").exists()
    assert qa("-q", "list", *opts) == 0
    table = capsys.readouterr().out
    assert "nato.txt" in table and "genf.txt" not in table and "1 documents" in table
    assert qa("-q", "remove", "nato.txt", *opts) == 2  # would empty the corpus
    assert "empty" in capsys.readouterr().err


def test_qa_add_into_a_new_corpus_folder(tmp_path, capsys):
    article = tmp_path / "genf.txt"
    article.write_text(ARTICLES["genf.txt"], encoding="utf-8")
    corpus = tmp_path / "new-corpus"
    assert qa("-q", "add", str(article), "--corpus", str(corpus), "--index-dir", str(tmp_path / "idx")) == 0
    assert "added 1" in capsys.readouterr().out and (corpus / "genf.txt").exists()
    # (no --index-dir: the default index/ must not be opened, let alone rebuilt over this corpus)
    spy = LoaderSpy(fake_loader())
    assert main(["-q", "add", str(tmp_path / "missing.txt"), "--corpus", str(corpus)], load_system=spy) == 2
    assert "does not exist" in capsys.readouterr().err and spy.calls == []


def test_qa_add_html_and_pdf_and_refuses_broken_ones(fake_cli, tmp_path, capsys):
    from tests.test_ingest_formats import PAGE, _pdf

    opts, corpus = fake_cli
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "genf-bericht.html").write_text(PAGE, encoding="utf-8")
    (incoming / "bericht.pdf").write_bytes(_pdf([["Bericht aus Brüssel"], ["Die Nato berät über Waffen."]]))
    (incoming / "kaputt.pdf").write_bytes(b"%PDF-1.7\n garbage")
    (incoming / "notiz.docx").write_bytes(b"PK\x03\x04")
    assert qa("-q", "add", *map(str, sorted(incoming.iterdir())), *opts) == 0
    out = capsys.readouterr()
    assert "added 2, updated 0, unchanged 0, skipped 2" in out.out
    warnings = [line for line in out.err.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 2 and any("kaputt.pdf" in w and "not a readable PDF" in w for w in warnings)
    assert any("notiz.docx" in w and "unsupported" in w for w in warnings)
    assert {p.name for p in corpus.iterdir()} == {"genf.txt", "nato.txt", "genf-bericht.html", "bericht.pdf"}
    assert qa("-q", "list", "--json", *opts) == 0
    rows = {r["doc_id"]: r for r in json.loads(capsys.readouterr().out)["documents"]}
    assert rows["genf-bericht.html"]["title"] == "USA und Russland verhandeln in Genf"
    assert rows["genf-bericht.html"]["date"] == "2025-09-04" and rows["genf-bericht.html"]["outlet"] == "dpa"
    assert qa("-q", "add", str(incoming / "kaputt.pdf"), *opts) == 2
    assert "none of the given files" in capsys.readouterr().err


# --- change detection by size and mtime (issue 15, defect 10) ---------------------------------

def _same_size_garbage(path):
    """Overwrite ``path`` with other bytes of the same size and put its mtime back: a change
    only a reader of the file could see."""
    import os

    info = path.stat()
    data = path.read_bytes()
    path.write_bytes(data.replace(b"e", b"a"))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def test_files_with_their_recorded_size_and_mtime_are_not_read_again(tmp_path, capsys):
    from qa.commands.main import main
    from tests.fakes import fake_loader

    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    index = ["--index-dir", str(tmp_path / "index")]
    assert main(["index", str(corpus), *index], load_system=fake_loader()) == 0
    first = sorted(corpus.iterdir())[0]
    _same_size_garbage(first)
    capsys.readouterr()
    assert main(["index", str(corpus), *index], load_system=fake_loader()) == 0
    assert ": up to date;" in capsys.readouterr().out        # not read, so not seen
    first.touch()                                             # now its mtime differs: read again
    assert main(["index", str(corpus), *index], load_system=fake_loader()) == 0
    out = capsys.readouterr().out
    assert ": updated;" in out and "updated 1" in out
    assert main(["index", str(corpus), *index], load_system=fake_loader()) == 0
    assert ": up to date;" in capsys.readouterr().out        # recorded again after the update


def test_a_touched_file_with_the_same_text_is_read_but_not_embedded_again(tmp_path, capsys):
    from qa.commands.main import main
    from tests.fakes import FakeEmbedder, fake_loader

    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    index = ["--index-dir", str(tmp_path / "index")]
    assert main(["index", str(corpus), *index], load_system=fake_loader()) == 0
    sorted(corpus.iterdir())[1].touch()
    embedder = FakeEmbedder()
    assert main(["index", str(corpus), *index], load_system=fake_loader(embedder=embedder)) == 0
    assert embedder.passages_encoded == 0 and ": up to date;" in capsys.readouterr().out


def test_qa_list_reads_no_article_when_nothing_changed(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    index = ["--index-dir", str(tmp_path / "index")]
    assert main(["index", str(corpus), *index], load_system=fake_loader()) == 0
    _same_size_garbage(sorted(corpus.iterdir())[2])          # only a reader would notice
    capsys.readouterr()
    assert main(["list", "--corpus", str(corpus), *index], load_system=fake_loader()) == 0
    assert "does not match the corpus" not in capsys.readouterr().err
    (sorted(corpus.iterdir())[2]).touch()
    assert main(["list", "--corpus", str(corpus), *index], load_system=fake_loader()) == 0
    assert "does not match the corpus" in capsys.readouterr().err


def test_the_list_gives_each_articles_link_from_its_header(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "genf.txt").write_text("URL: https://example.de/genf\nMedium: Beispiel-Zeitung\n\n"
                                     + ARTICLES["genf.txt"], encoding="utf-8")
    (corpus / "nato.txt").write_text(ARTICLES["nato.txt"], encoding="utf-8")
    rows = fake_system(corpus, tmp_path / "idx").rows()
    assert [(r["url"], r["outlet"]) for r in rows] == [("https://example.de/genf", "Beispiel-Zeitung"), (None, None)]
