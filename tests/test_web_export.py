"""The chat's language tables, source cards, Markdown export and feedback handlers
(qa/web/texts.py, render.py, export.py, app.py) on fakes, without a browser."""
from __future__ import annotations

from datetime import datetime

import gradio as gr
import pytest

from embeddings.documents import Document
from qa.answering import present
from qa.settings import REPO_ROOT, Settings
from qa.system import QASystem
from qa.types import Answer, Hit, Response
from qa.web import app, render
from qa.web.export import conversation_markdown
from qa.web.texts import TEXTS, pick_language
from embeddings.chunking import Chunk
from qa.answering.feedback import FeedbackLog
from tests.fakes import FakePipeline, fake_documents

TEXT = "Die Sitzung des Nato-Russland-Rates ist am 12. Januar in Brüssel. Weitere Sätze folgen."
META = {"outlet": "dpa", "date": "2025-09-04", "url": "https://example.org/artikel?id=1"}
DOC = Document("a.txt", "Gipfel *in* Brüssel", TEXT, META)


def make_view(*, tier="confident", confidence=0.87, metadata=META, question="Wann ist die Sitzung?"):
    hit = Hit(Chunk("a.txt", 0, len(TEXT), TEXT), 0.9, 1, DOC.title, metadata)
    start = TEXT.index("12. Januar")
    answer = Answer("12. Januar", 0.8, "a.txt", DOC.title, start, start + 10,
                    TEXT[:TEXT.index(".", start + 4) + 1], 0, TEXT.index(".", start + 4) + 1, hit, "fake")
    abstained = tier == "none"
    response = Response(question, () if abstained else (answer,), (hit,), "fake", abstained,
                        confidence=confidence, tier=tier)
    return present.present(response, question=question)


def test_every_language_has_every_text():
    assert set(TEXTS) == {"de", "en"} and TEXTS["de"].keys() == TEXTS["en"].keys()
    assert not any("Sicherheit" in text for text in TEXTS["de"].values())  # reads as "security"


@pytest.mark.parametrize("choice, expected", [(None, "de"), ("", "de"), ("en", "en"), ("EN-gb", "en"),
                                              ("fr", "de"), ("de", "de")])
def test_the_interface_is_german_unless_english_is_asked_for(choice, expected):
    assert pick_language(choice) == expected


@pytest.mark.parametrize("tier, confidence, de, en", [
    ("confident", 0.87, "Einschätzung: sicher (87 %)", "Assessment: confident (87 %)"),
    ("uncertain", 0.52, "Einschätzung: unsicher (52 %) – bitte die markierte Quelle prüfen",
     "Assessment: uncertain (52 %) – please check the highlighted source"),
])
def test_the_assessment_names_the_tier_and_the_calibrated_confidence(tier, confidence, de, en):
    view = make_view(tier=tier, confidence=confidence)
    assert render.assessment_line(view, lang="de") == de
    assert render.assessment_line(view, lang="en") == en
    assert "80 %" not in render.answer_markdown(view)  # the reader's span score is not shown


def test_citation_numbers_are_links_with_the_cited_sentence_as_preview():
    view = make_view()
    text = render.answer_markdown(view, lang="en")
    assert text.startswith('**12\\. Januar** <a class="qa-cite" href="#qa-cite-1" title="Source 1: ')
    assert "Die Sitzung des Nato-Russland-Rates ist am 12. Januar in Brüssel." in text
    assert render.preview(view, 1) == "Die Sitzung des Nato-Russland-Rates ist am 12. Januar in Brüssel."
    assert render.preview(view, 9) == ""


def test_a_source_card_shows_outlet_date_and_a_safe_link_and_hides_internals_in_details():
    html = render.sources_html(make_view(), lang="de", active=1)
    assert 'id="qa-src-1"' in html and "qa-card-active" in html
    assert 'href="https://example.org/artikel?id=1" target="_blank" rel="noopener noreferrer"' in html
    assert "dpa · 2025-09-04" in html and "Original ↗" in html
    head, details = html.split('<details class="qa-details">')
    assert "a.txt" not in head.split('class="qa-passage"')[0]  # no file name before the details
    assert "a.txt" in details and "0–" in details and "Suchwert 0.90" in details


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "/relative", "ftp://x.org/a",
                                 'https://x.org/"><script>', "https://x.org/a b", ""])
def test_only_http_links_reach_a_card(url):
    html = render.sources_html(make_view(metadata={**META, "url": url}))
    assert "qa-original" not in html and "<script" not in html


def test_the_article_list_rows_are_in_the_tab_order_with_a_name():
    html = render.article_list_html({"a.txt": DOC}, lang="en")
    assert 'tabindex="0"' in html and 'aria-label="Open the article: Gipfel *in* Brüssel"' in html
    assert "<th>Outlet</th>" in html and "<th>Medium</th>" in render.article_list_html({"a.txt": DOC})
    assert 'href="https://example.org/artikel?id=1" target="_blank" rel="noopener noreferrer"' in html


def test_a_conversation_exports_as_markdown_with_its_citations():
    answered = make_view()
    refused = make_view(tier="none", question="Wer ist *Orbán*?")
    text = conversation_markdown([("Wann ist die Sitzung?", answered, ""),
                                  ("Wer ist *Orbán*?", refused, ""),
                                  ("x" * 3, None, "⚠️ Die Frage ist zu lang\\.")],
                                 lang="de", when=datetime(2026, 1, 2, 3, 4))
    assert text.startswith("# Unterhaltung\n\n*Exportiert am 2026-01-02 03:04*\n\n## 1. Wann ist die Sitzung?")
    assert "**Antwort:** 12. Januar \\[1\\]" in text
    assert "Einschätzung: sicher (87 %)" in text
    assert "1. Gipfel \\*in\\* Brüssel · dpa · 2025-09-04 · <https://example.org/artikel?id=1>" in text
    assert "   > Die Sitzung des Nato-Russland-Rates ist am 12. Januar in Brüssel." in text
    assert "## 2. Wer ist \\*Orbán\\*?" in text and "Dazu finde ich in den Artikeln keine Antwort." in text
    assert "## 3. xxx\n\n⚠️ Die Frage ist zu lang." in text
    english = conversation_markdown([("When?", answered, "")], lang="en")
    assert "**Answer:** 12. Januar" in english and "Assessment: confident (87 %)" in english


# --- feedback ------------------------------------------------------------------------------


@pytest.fixture
def service(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    system = QASystem(Settings().replace(index_dir=tmp_path), pipeline=FakePipeline(fake_documents(REPO_ROOT / "seeds")))
    return app.ChatService(system, feedback_log=log), log


def answered_turns(service):
    turns = []
    for question in ("Wie viele Menschen sind im Donbass getötet worden?", "Und seit wann?"):
        service.show_question(question, turns)
        service.answer_turn(turns, 5, 3, 0.0, [], None, "de")
    return turns


def test_a_vote_is_stored_with_the_answer_its_offsets_and_the_history(service):
    service, log = service
    turns = answered_turns(service)
    note, row, voted = service.record_vote(turns, "de", gr.LikeData(None, {"index": 3, "value": "", "liked": True}))
    entry = log.entries()[-1]
    answer = turns[3].view.answer
    assert (entry.verdict, entry.question, entry.answer) == ("right", "Und seit wann?", answer.text)
    assert (entry.doc_id, entry.start, entry.end) == (answer.doc_id, answer.start, answer.end)
    assert entry.history == ("Wie viele Menschen sind im Donbass getötet worden?",)
    assert entry.tier == turns[3].view.response.tier and entry.confidence == turns[3].view.response.confidence
    assert "Als richtig gespeichert" in note and row.visible is False and voted == 3


def test_a_wrong_vote_opens_the_box_for_the_right_answer(service):
    service, log = service
    turns = answered_turns(service)
    _, row, voted = service.record_vote(turns, "en", gr.LikeData(None, {"index": 1, "value": "", "liked": False}))
    assert row.visible is True and log.entries()[-1].verdict == "wrong"
    note, row, box = service.record_correction(turns, voted, "  mehr als 13 000  ", "en")
    entry = log.entries()[-1]
    assert (entry.verdict, entry.correct_answer, entry.history) == ("wrong", "mehr als 13 000", ())
    assert "mehr als 13 000" in note and row.visible is False and box == ""
    assert service.record_correction(turns, voted, "   ", "en")[0].count("qa-hint") == 1  # nothing typed
    assert len(log.entries()) == 2


def test_a_vote_on_a_question_stores_nothing(service):
    service, log = service
    turns = answered_turns(service)
    result = service.record_vote(turns, "de", gr.LikeData(None, {"index": 0, "value": "", "liked": True}))
    assert all(value == gr.skip() for value in result) and log.entries() == []


def test_switching_the_language_shows_the_answers_again_in_it(service):
    service, _ = service
    turns = answered_turns(service)
    assert "Einschätzung" in turns[1].content
    messages = service.relabel(turns, "en")
    assert "Assessment" in messages[1]["content"] and "Assessment" in turns[1].content
    assert messages[0]["content"] == turns[0].content  # questions stay as asked


def test_a_long_sentence_is_previewed_around_its_answer():
    view = make_view()
    window = render.preview(view, 1, limit=30)
    assert "12. Januar" in window and window.startswith("… ") and len(window) <= 34


def test_the_status_line_and_the_add_confirmation_speak_the_interfaces_language():
    from qa.system import SystemStatus

    status = SystemStatus(articles=4, passages=1, mode="hybrid", embedder="e5", index_kind="flat", reader="r")
    assert render.status_line(status, lang="de") == \
        "4 Artikel · 1 Stelle · hybride Suche (BM25 + e5) · Index flat · Lesemodell r"
    assert render.status_line(status, lang="en") == \
        "4 articles · 1 passage · hybrid retrieval (BM25 + e5) · flat index · reader r"
    assert "4 Artikel" in render.header_html(status)  # German unless asked
    added = render.added_html(DOC, outcome="updated", passages=3, lang="de")
    assert "Aktualisiert" in added and "3 Stellen" in added and "Gipfel *in* Brüssel" in added


def test_the_download_button_gets_one_file_per_session(service):
    service, _ = service
    assert service.export_conversation([], "de").interactive is False  # nothing to export yet
    turns = answered_turns(service)
    request = type("Request", (), {"session_hash": "abc/../x"})()
    service.export_conversation(turns, "de", request)
    button = service.export_conversation(turns[:2], "en", request)
    files = list(service._exports.rglob("*.md"))
    assert [f.relative_to(service._exports).as_posix() for f in files] == ["abcx/newsqa-conversation.md"]
    assert button.interactive and button.value["orig_name"] == "newsqa-conversation.md"
    text = files[0].read_text(encoding="utf-8")
    assert text.startswith("# Conversation") and "## 2." not in text  # rewritten, in English


def test_a_closed_page_takes_its_exported_conversation_with_it(service):
    service, _ = service
    turns = answered_turns(service)
    first, second = (type("Request", (), {"session_hash": h})() for h in ("first", "second"))
    service.export_conversation(turns, "de", first)
    service.export_conversation(turns, "de", second)
    service.forget_session(first)  # Blocks.unload: the first visitor closed the tab
    files = sorted(f.relative_to(service._exports).as_posix() for f in service._exports.rglob("*.md"))
    assert files == ["second/newsqa-conversation.md"]
    service.forget_session(first)  # twice, or for a session that exported nothing: no error
    assert [h for h in ("first", "second") if (service._exports / h).exists()] == ["second"]


def test_the_page_cleans_its_served_files_and_forgets_closed_sessions(service):
    from qa.web.page import CACHE_CLEANUP, build_app

    service, _ = service
    blocks = build_app(service)
    assert blocks.delete_cache == CACHE_CLEANUP
    unloads = [fn for fn in blocks.fns.values() if [t[1] for t in fn.targets] == ["unload"]]
    assert [fn.fn for fn in unloads] == [service.forget_session]


def test_a_users_mistake_is_said_in_the_pages_language():
    """Messages for a user's mistakes come in the page's language where the error names its
    message (QAError.key), filled with its values; every key raised has a text in both tables."""
    import re
    from pathlib import Path

    from embeddings import intake
    from embeddings.errors import QAError
    from qa.answering.question import check_question

    with pytest.raises(QAError) as caught:
        intake.pasted_article("Titel", "x" * (intake.MAX_ARTICLE_BYTES + 10))
    assert render.error_text(caught.value, lang="de").startswith("Der Text hat 5.0 MB; ein Artikel darf höchstens 5 MB")
    assert render.error_text(caught.value, lang="en").startswith("The text is 5.0 MB; articles may have at most 5 MB")
    with pytest.raises(QAError) as caught:
        check_question("x" * 3000)
    assert render.error_text(caught.value, lang="de") == "Die Frage ist 3000 Zeichen lang; bitte höchstens 1000 Zeichen."
    assert render.error_text(caught.value, lang="en") == "The question is 3,000 characters long; please keep it under 1,000."
    assert "/" in str(caught.value)                               # the CLI and the API keep both languages
    assert render.error_text(QAError("no key: its own words"), lang="de") == "no key: its own words"
    assert render.error_text(QAError("values missing", key="upload_empty"), lang="de") == "values missing"
    raised = set()
    for source in ("embeddings/intake.py", "qa/answering/question.py", "qa/web/app.py"):
        raised |= set(re.findall(r'key="(\w+)"', (REPO_ROOT / source).read_text(encoding="utf-8")))
    assert len(raised) >= 15 and all(f"error_{key}" in TEXTS[lang] for key in raised for lang in TEXTS)


def test_the_add_form_refuses_and_renames_in_the_pages_language(tmp_path):
    from tests.fakes import fake_system

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Gipfel\n\nDer Gipfel ist in Vilnius.\n", encoding="utf-8")
    service = app.ChatService(fake_system(corpus, tmp_path / "index"))
    assert "Bitte entweder eine Datei" in service.add_from_form(str(corpus / "a.txt"), "T", "Text.", False, "de")[0]
    assert "not both" in service.add_from_form(str(corpus / "a.txt"), "T", "Text.", False, "en")[0]
    upload = tmp_path / "up" / "bild.png"
    upload.parent.mkdir()
    upload.write_bytes(b"\x89PNG")
    assert "bild.png: Dieser Dateityp kann nicht" in service.add_from_form(str(upload), "", "", False, "de")[0]
    first = service.add_from_form(None, "Gipfel in Genf", "Die Gespräche beginnen am Montag.", False, "de")[0]
    second = service.add_from_form(None, "Gipfel in Genf", "Die Gespräche beginnen am Dienstag.", False, "de")[0]
    assert "qa-add-note" not in first
    assert "Ein Artikel namens gipfel-in-genf.txt ist schon da, deshalb ist dieser als gipfel-in-genf-2.txt" in second
