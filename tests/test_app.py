"""The chat (qa/web/app.py) on a QASystem over fakes: the handlers, the /ask API, start-up."""
from __future__ import annotations

import argparse
import re
import shutil
import socket
from pathlib import Path

import gradio as gr
import pytest

from embeddings.errors import QAError
from qa.commands.main import build_parser
from qa.settings import REPO_ROOT, Settings
from qa.system import QASystem
from qa.web import app, page, render, server
from tests.fakes import FakePipeline, FakeReader, fake_documents, fake_system

SEEDS = REPO_ROOT / "seeds"


def astuple_added(added):
    """(document, outcome, passages, note) of an ``app.Added``."""
    return added.document, added.outcome, added.passages, added.note
QUESTION = "Wie viele Menschen sind im Donbass getötet worden?"


@pytest.fixture(scope="module")
def documents():
    return fake_documents(SEEDS)


@pytest.fixture
def pipeline(documents):
    return FakePipeline(documents)


@pytest.fixture
def service(pipeline):
    return app.ChatService(QASystem(Settings(), pipeline=pipeline))


def ask_in_chat(service, question, messages=(), turns=(), **settings):
    """Show and answer ``question`` as the chat does; (messages, turns, sources, view), with
    the messages unchanged and no view when nothing was asked (a blank question)."""
    turns = list(turns)
    service.show_question(question, turns)  # changes ``turns`` in place, as in a session
    values = dict(k=5, top_n=3, threshold=None, doc_ids=[], current_view=None) | settings
    answered = service.answer_turn(turns, **values)
    if answered[0] == gr.skip():
        return list(messages), turns, None, None
    messages, turns, sources, view, _ = answered
    return messages, turns, sources, view


def test_a_question_gets_an_answer_with_citation_and_sources(service):
    messages, turns, sources, view = ask_in_chat(service, QUESTION)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"].startswith(f"**{app.render.escape_markdown(view.answer.text)}** <a class=\"qa-cite\" href=\"#qa-cite-1\"")
    assert re.search(r"Einschätzung: (sicher|unsicher) \(\d+ %\)", messages[1]["content"])
    assert 'class="qa-answer"' in sources and 'data-cite="1"' in sources
    assert turns[0].role == "user" and turns[0].view is None and turns[1].view is view
    assert [t.content for t in turns] == [m["content"] for m in messages]


def test_a_too_long_question_gets_a_friendly_message_not_a_traceback(service, pipeline):
    messages, _, _, view = ask_in_chat(service, "x" * 10_000)
    assert view is None and "Die Frage ist 10" in messages[-1]["content"]
    assert [m["role"] for m in messages] == ["user", "assistant"] and pipeline.calls == []


@pytest.mark.parametrize("question, expected", [
    ("", "Bitte eine Frage eingeben"),
    ("   ", "Bitte eine Frage eingeben"),
    (12345, "Bitte eine Frage als Text"),
    (None, "Bitte eine Frage eingeben"),
])
def test_a_blank_question_adds_nothing_to_the_chat_and_shows_a_hint(service, pipeline, question,
                                                                    expected):
    messages, turns, _, _ = ask_in_chat(service, QUESTION)
    box, shown, _, hint = service.show_question(question, turns)
    assert box == "" and shown == gr.skip() and hint.visible and expected in hint.value
    again, turns, sources, view = ask_in_chat(service, question, messages, turns)
    assert again == messages and len(turns) == 2 and view is None and len(pipeline.calls) == 1
    assert service.show_question(QUESTION, turns)[3].visible is False  # the next question hides it


def test_questions_shown_before_their_answers_are_answered_in_order(service, pipeline):
    """Two questions sent at once: both are shown, then each answer goes under its question."""
    values = dict(k=5, top_n=3, threshold=None, doc_ids=[], current_view=None)
    turns = []
    for question in (QUESTION, "Wo finden Gespräche in Genf statt?"):
        _, messages, turns, _ = service.show_question(question, turns)
    assert [m["role"] for m in messages] == ["user", "user"]
    messages, turns, _, first, _ = service.answer_turn(turns, **values)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    messages, turns, _, second, _ = service.answer_turn(turns, **values)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert (first.question, second.question) == (QUESTION, "Wo finden Gespräche in Genf statt?")
    assert pipeline.calls[1]["history"] == [QUESTION]
    assert service.answer_turn(turns, **values)[0] == gr.skip()  # no question waits


def test_questions_keep_the_order_the_page_sent_them_in(service):
    """Two requests sent at once may arrive in either order; the page numbers them."""
    values = dict(k=5, top_n=3, threshold=None, doc_ids=[], current_view=None)
    later = "Wo finden Gespräche in Genf statt?"
    turns = []
    service.show_question(later, turns, 2)
    _, messages, turns, _ = service.show_question(QUESTION, turns, 1)
    assert [t.question for t in turns] == [QUESTION, later]
    for _ in range(2):
        messages, turns, *_ = service.answer_turn(turns, **values)
    assert [(t.role, t.question) for t in turns] == [
        ("user", QUESTION), ("assistant", QUESTION), ("user", later), ("assistant", later)]


def test_a_double_click_on_ask_shows_the_question_once(service, pipeline):
    turns = []
    for _ in range(2):  # the box still held the question when the second click was sent
        _, messages, turns, _ = service.show_question(QUESTION, turns)
    assert len(messages) == 1
    values = dict(k=5, top_n=3, threshold=None, doc_ids=[], current_view=None)
    messages, turns, *_ = service.answer_turn(turns, **values)
    messages, turns, _, _ = ask_in_chat(service, QUESTION, messages, turns)  # asked again later
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert len(pipeline.calls) == 2


def test_a_followup_sent_before_the_first_answer_waits_for_it(service, pipeline):
    """The system answers several questions at once: the second question of a chat, sent while
    the first is still being answered, must still be resolved against the first."""
    import threading

    values = dict(k=5, top_n=3, threshold=None, doc_ids=[], current_view=None)
    first, followup = "Wer hat Selenskyj Unterstützung zugesichert?", "Und wann?"
    turns: list = []
    service.show_question(first, turns)
    service.show_question(followup, turns)
    release, followup_asked = threading.Event(), threading.Event()
    original = service.ask

    def ask(question, **kwargs):
        if question == first:
            followup_asked.wait(timeout=1.0)  # with the bug, the follow-up is asked meanwhile
            release.set()
        else:
            followup_asked.set()
        return original(question, **kwargs)

    service.ask = ask
    threads = [threading.Thread(target=service.answer_turn, args=(turns,), kwargs=values) for _ in range(2)]
    threads[0].start()
    while not (turns and id(turns[0]) in app._ANSWERING) and threads[0].is_alive():
        threading.Event().wait(0.01)
    threads[1].start()
    for thread in threads:
        thread.join(timeout=30)
    histories = {call["question"]: call["history"] for call in pipeline.calls}
    assert list(histories[followup] or ()) == [first]
    assert [t.role for t in turns] == ["user", "assistant", "user", "assistant"]


def test_a_new_conversation_drops_an_answer_still_running(service):
    values = dict(k=5, top_n=3, threshold=None, doc_ids=[], current_view=None)
    _, _, turns, _ = service.show_question(QUESTION, [])
    original = service.ask
    service.ask = lambda *a, **kw: (service.new_conversation(turns), original(*a, **kw))[1]
    answered = service.answer_turn(turns, **values)
    assert turns == [] and all(value == gr.skip() for value in answered)


def test_a_long_question_is_shown_shortened(service):
    messages, *_ = ask_in_chat(service, "Frage " * 2000)
    assert len(messages[0]["content"]) < app.SHOWN_QUESTION_CHARS + 20


def test_pipeline_errors_are_shown_in_the_chat(service):
    messages, *_ = ask_in_chat(service, "RAISE-QAERROR bitte")
    assert "the fake pipeline was asked to fail" in messages[-1]["content"]


def test_a_bug_is_logged_and_the_chat_goes_on(service, pipeline, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(pipeline, "ask", broken)
    messages, *_ = ask_in_chat(service, QUESTION)
    assert "etwas schiefgegangen" in messages[-1]["content"] and "boom" not in messages[-1]["content"]
    assert "boom" in caplog.text


def test_a_hostile_question_is_shown_literally(service):
    messages, *_ = ask_in_chat(service, '<img src=x onerror="alert(1)"> [a](javascript:x)')
    shown = messages[0]["content"]
    assert "<img" not in shown and "&lt;img" in shown and "\\[a\\]\\(javascript\\:x\\)" in shown


def test_followups_pass_the_history_and_show_the_resolved_query(service, pipeline):
    messages, turns, _, _ = ask_in_chat(service, "Wer hat Selenskyj Unterstützung zugesichert?")
    messages, turns, _, view = ask_in_chat(service, "Und wann?", messages, turns)
    assert pipeline.calls[-1]["history"] == ["Wer hat Selenskyj Unterstützung zugesichert?"]
    assert view.response.retrieval_query == "Wann hat Selenskyj Unterstützung zugesichert?"
    assert "Verstanden als: Wann hat Selenskyj" in messages[-1]["content"]


def test_settings_reach_the_pipeline(service, pipeline, documents):
    chosen = [documents[1].doc_id]
    ask_in_chat(service, QUESTION, k=7, top_n=2, threshold=0.25, doc_ids=chosen)
    call = pipeline.calls[-1]
    assert (call["k"], call["top_n"], call["threshold"], call["doc_ids"]) == (7, 2, 0.25, chosen)


def test_restricting_to_an_unknown_article_is_a_friendly_error(service):
    messages, *_ = ask_in_chat(service, QUESTION, doc_ids=["nope.txt"])
    assert "unknown article id" in messages[-1]["content"]


def test_abstention_lists_the_closest_passages(service):
    messages, _, sources, view = ask_in_chat(service, "Xylophon Zebra?")
    assert view.abstained
    assert messages[-1]["content"].startswith("Dazu finde ich in den Artikeln keine Antwort.")
    assert 'href="#qa-cite-1"' in messages[-1]["content"] and "qa-card" in sources


def test_selecting_a_message_shows_its_sources(service):
    messages, turns, _, first = ask_in_chat(service, QUESTION)
    messages, turns, _, second = ask_in_chat(service, "Wo finden Gespräche in Genf statt?", messages, turns)
    for index in (0, 1):  # the question or its answer
        html, view, _ = service.select_message(turns, "de", gr.SelectData(None, {"index": index, "value": None}))
        assert view is first
    html, view, _ = service.select_message(turns, "de", gr.SelectData(None, {"index": 3, "value": None}))
    assert view is second


def test_opening_a_citation_shows_the_article_with_the_answer_marked(service, documents):
    _, _, _, view = ask_in_chat(service, QUESTION)
    html, tabs = service.open_citation(view, "de", gr.EventData(None, {"number": 1}))
    answer = view.answer
    document = next(d for d in documents if d.doc_id == answer.doc_id)
    assert f'<mark class="qa-answer">{app.render.escape_html(document.text[answer.start:answer.end])}</mark>' in html
    assert 'id="qa-passage"' in html and tabs.selected == "article"
    html, _ = service.open_citation(view, "de", gr.EventData(None, {"number": 9}))
    assert "no citation [9]" in html


def test_opening_a_document_from_the_list(service, documents):
    html, _ = service.open_document("de", gr.EventData(None, {"doc_id": documents[0].doc_id}))
    assert documents[0].text[:40].split()[0] in html
    assert service.open_document("de", gr.EventData(None, {"doc_id": "missing"}))[0] is not None


def test_api_ask_returns_answers_with_citations_as_data(service):
    data = service.api_ask(QUESTION, k=5, top_n=3)
    assert data["answers"] and data["citations"][0]["number"] == 1
    first = data["answers"][0]
    assert first["citation"] == 1 and first["end"] > first["start"]
    with pytest.raises(gr.Error, match="Bitte eine Frage"):
        service.api_ask("")


def test_blocks_build_with_a_named_ask_endpoint_and_a_queue(service):
    blocks = page.build_app(service)
    names = [d.get("api_name") for d in blocks.config["dependencies"] if d.get("api_visibility") == "public"]
    assert names == ["ask"]
    assert blocks._queue.default_concurrency_limit == 2
    assert blocks._queue.max_size == page.QUEUE_SIZE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_ask_endpoint_over_http_with_gradio_client(service):
    from gradio_client import Client

    blocks = page.build_app(service)
    page.launch(blocks, host="127.0.0.1", port=_free_port(), prevent_thread_lock=True)
    try:
        client = Client(blocks.local_url, verbose=False)
        data = client.predict(question=QUESTION, api_name="/ask")
        assert data["abstained"] is False and data["answers"][0]["citation"] == 1
        followup = client.predict(question="Und wann?", history=[QUESTION], api_name="/ask")
        assert followup["retrieval_query"] == "Wann Menschen sind im Donbass getötet worden?"
    finally:
        blocks.close()


# --- status line ----------------------------------------------------------------------------

def test_the_status_says_articles_passages_retrieval_mode_index_type_and_reader(tmp_path):
    service = indexed_service(tmp_path, mode="hybrid")
    line = app.render.status_line(service.status())
    assert line.startswith("4 articles · ") and " passages · " in line
    assert "hybrid retrieval (BM25 + fake-embedder) · flat index · reader fake-reader" in line
    header = page.build_app(service).config  # the header is rendered into the page
    assert any("hybride Suche" in str(c.get("props", {}).get("value", "")) for c in header["components"])


def test_the_fake_pipelines_status_names_what_it_knows(service):
    line = app.render.status_line(service.status())
    assert line.startswith("4 articles · ") and "reader fake-reader" in line and "index" not in line


def test_the_threshold_slider_says_what_0_means_and_what_it_acts_on(service):
    blocks = page.build_app(service)
    slider = next(c for c in blocks.config["components"] if c.get("props", {}).get("elem_id") == "qa-threshold")
    assert slider["props"]["label"] == "Schwelle für „nicht in den Artikeln“ (0 = immer antworten)"
    assert "die Prozentzahl der Einschätzung" in slider["props"]["info"]
    assert "unsicher" in slider["props"]["info"]
    english = page.build_app(service, lang="en")
    slider = next(c for c in english.config["components"] if c.get("props", {}).get("elem_id") == "qa-threshold")
    assert "the percentage shown as 'Assessment'" in slider["props"]["info"]


# --- adding articles ------------------------------------------------------------------------

NEW_TITLE = "Zebrastadt wird Hauptstadt"
NEW_TEXT = ("Die Testrepublik hat eine neue Hauptstadt: Zebrastadt. Das Parlament beschloss den "
            "Umzug am Montag mit großer Mehrheit.")
NEW_QUESTION = "Wie heißt die neue Hauptstadt der Testrepublik?"


def indexed_service(tmp_path, *, answer="Zebrastadt", mode="bm25"):
    """A ChatService over a copy of the seeds, loaded by QASystem.load with a real index and
    the fake embedder; BM25 by default, since the fake embedder's vectors are not semantic."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    reader = FakeReader(answer_for=lambda question: answer)
    return app.ChatService(fake_system(corpus, tmp_path / "index", reader=reader, mode=mode))


@pytest.fixture
def living(tmp_path):
    return indexed_service(tmp_path)


def test_a_pasted_article_is_saved_and_answers_at_once(living):
    assert living.ask(NEW_QUESTION).answer.doc_id != "zebrastadt-wird-hauptstadt.txt"
    document, outcome, passages, _ = astuple_added(living.add_article(title=NEW_TITLE, text=NEW_TEXT))
    assert (document.doc_id, document.title, outcome) == ("zebrastadt-wird-hauptstadt.txt", NEW_TITLE, "added")
    assert passages >= 1 and len(living.documents) == 5
    saved = living.settings.corpus_dir / document.doc_id
    assert saved.read_text(encoding="utf-8") == f"{NEW_TITLE}\n\n{NEW_TEXT}\n"
    view = living.ask(NEW_QUESTION)
    assert view.answer.text == "Zebrastadt" and view.answer.doc_id == document.doc_id
    text = living.documents[document.doc_id].text
    assert text[view.answer.start:view.answer.end] == "Zebrastadt"
    assert (living.settings.index_dir / "manifest.json").exists()  # saved, survives a restart


def test_the_same_title_again_updates_the_article_only_when_asked(living):
    first = living.add_article(title=NEW_TITLE, text=NEW_TEXT)
    assert living.add_article(title=NEW_TITLE, text=NEW_TEXT).outcome == "unchanged"
    changed = NEW_TEXT.replace("Montag", "Dienstag")
    kept = living.add_article(title=NEW_TITLE, text=changed)          # not asked to replace
    assert kept.outcome == "added" and kept.document.doc_id != first.document.doc_id
    assert first.document.doc_id in kept.note and "Replace" in kept.note
    assert "Montag" in living.documents[first.document.doc_id].text and len(living.documents) == 6
    replaced = living.add_article(title=NEW_TITLE, text=changed.replace("Dienstag", "Mittwoch"), replace=True)
    assert replaced.outcome == "updated" and replaced.document.doc_id == first.document.doc_id
    assert "Mittwoch" in replaced.document.text and replaced.note is None and len(living.documents) == 6


@pytest.mark.parametrize("titles", [("новости", "新闻"), ("Über die Nato", "Ueber die Nato")])
def test_titles_that_spell_alike_never_replace_each_other(living, titles):
    added = [living.add_article(title=title, text=NEW_TEXT + f" ({i})") for i, title in enumerate(titles)]
    names = [a.document.doc_id for a in added]
    assert len(set(names)) == 2 and all(name.endswith(".txt") and name.isascii() for name in names)
    assert [living.documents[name].title for name in names] == list(titles)


@pytest.mark.parametrize("title", ["../../etc/passwd", "/etc/passwd", "..", ".hidden", "a/../../b",
                                   "C:\\Windows\\system32", "Ölpreis: Ärger über Maß"])
def test_a_title_never_leads_out_of_the_corpus_folder(living, tmp_path, title):
    document = living.add_article(title=title, text=NEW_TEXT).document
    name = document.doc_id
    assert "/" not in name and "\\" not in name and not name.startswith(".") and name.endswith(".txt")
    assert (living.settings.corpus_dir / name).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "index"]


@pytest.mark.parametrize("title, text, expected", [
    ("", NEW_TEXT, "Bitte einen Titel"),
    ("   ", NEW_TEXT, "Bitte einen Titel"),
    (NEW_TITLE, "", "Bitte den Text"),
    (NEW_TITLE, " \n\t ", "Bitte den Text"),
    ("T" * 300, NEW_TEXT, "keep it under 200"),
    ("\x00\n\x1b", NEW_TEXT, "Bitte einen Titel"),
    (NEW_TITLE, "x" * 5_000_001, "at most 5 MB"),
    (None, None, "Choose a file to upload, or paste"),
])
def test_a_pasted_article_needs_a_title_and_a_text(living, title, text, expected):
    with pytest.raises(QAError, match=expected):
        living.add_article(title=title, text=text)
    assert len(living.documents) == 4


def _upload(tmp_path, name, data: bytes):
    folder = tmp_path / "upload"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name, data, expected", [
    ("virus.exe", b"MZ\x90\x00", "cannot be added"),
    ("noext", b"text", "files without an extension cannot be added"),
    ("bild.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    ("leer.txt", b"", "is empty"),
    ("leer.md", b"  \n\n ", "is empty"),
    ("fake.pdf", b"<html><script>alert(1)</script></html>", "is not a PDF"),
    ("kaputt.pdf", b"%PDF-1.7\n garbage", "not a readable PDF"),
    ("latin1.txt", "Grüße aus Köln".encode("latin-1"), "not valid UTF-8"),
    ("nur-skript.html", b"<html><body><script>alert(1)</script></body></html>", "empty HTML page"),
])
def test_hostile_or_broken_files_are_refused_with_the_reason(living, tmp_path, name, data, expected):
    path = _upload(tmp_path, name, data)
    with pytest.raises(QAError, match=expected) as error:
        living.add_article(file=path, original_name=name)
    assert str(tmp_path) not in str(error.value)  # names the file, not the server's temp path
    assert len(living.documents) == 4
    assert sorted(p.name for p in living.settings.corpus_dir.iterdir()) == sorted(p.name for p in SEEDS.iterdir())


def test_a_huge_file_is_refused_before_it_is_read(living, tmp_path):
    path = tmp_path / "huge.txt"
    with path.open("wb") as file:
        file.truncate(5_000_001)  # sparse: no 5 MB written
    with pytest.raises(QAError, match="huge.txt is 5.0 MB; articles may have at most 5 MB"):
        living.add_article(file=path, original_name="huge.txt")


def test_html_is_added_as_text_and_its_scripts_are_dropped(living, tmp_path):
    page = (b"<html><head><title>Zebrastadt</title><script>window.pwned=1</script></head><body>"
            b"<article><h1>Zebrastadt <img src=x onerror=alert(1)></h1><p>" + NEW_TEXT.encode() +
            b"<script>alert('x')</script></p></article></body></html>")
    path = _upload(tmp_path, "../../Zebra Stadt.HTM", page)
    document, outcome = astuple_added(living.add_article(file=path, original_name="../../Zebra Stadt.HTM"))[:2]
    assert outcome == "added" and document.doc_id == "zebra-stadt.html"
    assert "script" not in document.text and "alert" not in document.text and "pwned" not in document.text
    assert living.ask(NEW_QUESTION).answer.doc_id == "zebra-stadt.html"
    html = app.render.article_html(document)
    assert "<img" not in html and "<script" not in html


def test_a_pdf_is_added_and_its_citations_name_the_page(tmp_path):
    from tests.test_ingest_formats import _pdf

    service = indexed_service(tmp_path, answer="Zebrastadt")
    path = _upload(tmp_path, "bericht.pdf", _pdf([["Ein Bericht aus der Testrepublik."],
                                                 ["Die neue Hauptstadt der Testrepublik ist Zebrastadt."]]))
    document, outcome = astuple_added(service.add_article(file=path, original_name="bericht.pdf"))[:2]
    assert outcome == "added" and document.metadata["pages"] == "2"
    data = service.api_ask(NEW_QUESTION)
    first = data["citations"][0]
    assert first["doc_id"] == "bericht.pdf" and first["pages"] in ("page 2", "pages 1-2")
    assert "page_starts" not in first["metadata"]
    view = service.ask(NEW_QUESTION)
    assert "Seite" in app.render.answer_markdown(view) and "Seite" in app.render.sources_html(view)


def test_a_file_and_a_pasted_text_at_once_are_refused(living, tmp_path):
    path = _upload(tmp_path, "a.txt", b"Titel\n\nText.")
    with pytest.raises(QAError, match="not both"):
        living.add_article(file=path, title=NEW_TITLE, text=NEW_TEXT)


def test_adding_waits_for_a_running_question(living):
    """Adds take the system's lock: no question reads a half-updated index."""
    import threading

    done = threading.Event()
    with living.system._lock:
        worker = threading.Thread(target=lambda: (living.add_article(title=NEW_TITLE, text=NEW_TEXT),
                                                  done.set()))
        worker.start()
        assert not done.wait(0.3) and len(living.documents) == 4
    worker.join(30)
    assert done.is_set() and len(living.documents) == 5


def test_the_form_refreshes_the_page_or_shows_the_refusal(living):
    result, header, listing, choices, tab, article, tabs, file, title, text, url = living.add_from_form(
        None, NEW_TITLE, NEW_TEXT)
    assert "qa-add-ok" in result and "Hinzugefügt" in result and NEW_TITLE in result
    assert "5 Artikel" in header and "zebrastadt-wird-hauptstadt.txt" in listing
    assert ("Zebrastadt wird Hauptstadt", "zebrastadt-wird-hauptstadt.txt") in choices.choices
    assert tab.label == "Alle Artikel (5)" and tabs.selected == "article" and NEW_TEXT[:30] in article
    assert (file, title, text, url) == (None, "", "", "")
    refused = living.add_from_form(None, "", NEW_TEXT)
    assert "qa-add-error" in refused[0] and "Bitte einen Titel" in refused[0]
    assert len(refused) == 11 and all(isinstance(u, dict) for u in refused[1:])  # nothing else changes
    hostile = living.add_from_form(None, "<script>alert(1)</script>", "<b>x</b> " + NEW_TEXT)
    assert "<script>" not in hostile[0] and "&lt;script&gt;" in hostile[0]


def test_a_pasted_article_keeps_the_link_to_its_original(living, tmp_path):
    added = living.add_article(title=NEW_TITLE, text=NEW_TEXT, url="  https://www.example.org/zebra?id=1 ")
    assert added.outcome == "added" and added.document.title == NEW_TITLE
    assert added.document.metadata["url"] == "https://www.example.org/zebra?id=1"
    assert 'href="https://www.example.org/zebra?id=1"' in render.article_html(added.document, lang="de")
    for bad in ("javascript:alert(1)", "www.example.org/ohne-schema", "https://user:pw@example.org/",
                "https://example.org/" + "a" * 100_000, "https://example.org/<script>", "https://exa mple.org/"):
        refused = living.add_from_form(None, NEW_TITLE + " 2", NEW_TEXT, False, "de", bad)
        assert "qa-add-error" in refused[0] and "ist kein Link zum Artikel" in refused[0]  # the page is German
        assert len(refused[0]) < 600 and "<script>" not in refused[0]   # shortened, escaped
    blank = living.add_article(title=NEW_TITLE + " ohne Link", text=NEW_TEXT + " Ohne Link.", url="   \t ")
    assert "url" not in blank.document.metadata and not blank.document.text.startswith("URL:")
    upload = tmp_path / "bericht.txt"
    upload.write_text("Bericht\n\nEin Text.", encoding="utf-8")
    with pytest.raises(QAError, match="link goes with a pasted article"):
        living.add_article(file=upload, original_name="bericht.txt", url="https://example.org/")
    assert len(living.documents) == 6  # the two with a usable (or no) link, nothing refused


def test_a_fake_pipeline_without_an_index_cannot_add(service):
    assert not service.can_add
    with pytest.raises(QAError, match="cannot add articles"):
        service.add_article(title=NEW_TITLE, text=NEW_TEXT)
    assert page.build_app(service, allow_add=True)  # the form is hidden, the page still builds


def test_read_only_is_a_flag():
    assert parse(["--read-only"]).read_only and not parse([]).read_only


# --- start-up -------------------------------------------------------------------------------

def test_auth_needs_both_variables():
    assert server.auth_from_env({}) is None
    assert server.auth_from_env({"QA_AUTH_USER": "u", "QA_AUTH_PASSWORD": "p"}) == ("u", "p")
    with pytest.raises(QAError, match="QA_AUTH_PASSWORD"):
        server.auth_from_env({"QA_AUTH_USER": "u"})


def parse(argv):
    parser = argparse.ArgumentParser()
    server.add_serve_arguments(parser)
    return parser.parse_args(argv)


def test_flags_override_environment_and_defaults(tmp_path):
    args = parse(["--port", "9000", "--corpus", str(tmp_path), "--reader", "my/reader"])
    settings = server.settings_from_args(args, {"QA_PORT": "8000", "QA_HOST": "0.0.0.0"})
    assert (settings.port, settings.host, settings.corpus_dir) == (9000, "0.0.0.0", Path(tmp_path))
    assert settings.reader_model == "my/reader" and settings.embedding_model == "e5-small"


def test_start_up_log_says_which_models_and_why():
    lines = server.model_choice_reasons(parse(["--reader", "x/y"]), {"QA_EMBEDDING_MODEL": "m"})
    assert lines[0].startswith("embedding model: m") and "set by QA_EMBEDDING_MODEL" in lines[0]
    assert lines[1].startswith("reader: x/y") and "set by --reader" in lines[1]
    lines = server.model_choice_reasons(parse([]), {})
    assert "offline default" in lines[0] and "offline default" in lines[1]


def test_qa_serve_is_a_command_with_the_same_flags():
    args = build_parser().parse_args(["serve", "--port", "7000", "--share"])
    assert args.port == 7000 and args.share and args.handler.__module__ == "qa.commands.serve"


def test_gradio_copies_of_uploads_are_deleted_whether_added_or_refused(living, tmp_path, monkeypatch):
    uploads = tmp_path / "gradio-uploads"
    uploads.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    good = uploads / "bericht.txt"
    good.write_text("Bericht aus Zebrastadt\n\nDie Zebrastadt ist jetzt Hauptstadt.\n", encoding="utf-8")
    bad = uploads / "bild.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n")
    outside = tmp_path / "mine.txt"
    outside.write_text("Meins\n\nEin Text, der nicht Gradio gehört.\n", encoding="utf-8")
    assert "qa-add-ok" in living.add_from_form(str(good), "", "")[0]
    assert "qa-add-error" in living.add_from_form(str(bad), "", "")[0]
    living.add_from_form(str(outside), "", "")
    assert not good.exists() and not bad.exists()
    assert outside.exists()                     # only files in Gradio's upload folder


def test_what_a_killed_add_left_in_the_incoming_folder_is_removed_at_start(tmp_path):
    index_dir = tmp_path / "index"
    leftover = index_dir / app.INCOMING / "add-abc123"
    leftover.mkdir(parents=True)
    (leftover / "half.txt").write_text("halb")
    server.clean_incoming(index_dir)
    assert not any((index_dir / app.INCOMING).iterdir())
