"""The chat's views of an answer: question checks and follow-ups (qa/answering/question.py),
what to show and its JSON (qa/answering/present.py), safe rendering with exact highlights
(qa/web/render.py), uploads (embeddings/intake.py)."""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings import intake
from qa.answering import present
from qa.answering import question as questions
from qa.web import render
from qa import system
from embeddings.errors import QAError
from qa.types import Answer, Hit, Response

TEXT = (
    "Am 12. Januar ist eine Sitzung des Nato-Russland-Rates angesetzt. "
    "Mehr als 13 000 Menschen sind im Donbass getötet worden. "
    "Biden bot der Ukraine Sicherheitsgarantien an."
)
DOC = Document("a.txt", "Titel <b>A</b>", TEXT, {"outlet": "dpa", "date": "04.09.2025"})
HOSTILE = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> [klick](javascript:alert(1)) ![x](http://e.vil/x.png) **fett** www.e.vil'


def make_hit(doc: Document, start: int, end: int, *, rank: int = 1, score: float = 0.9) -> Hit:
    return Hit(Chunk(doc.doc_id, start, end, doc.text[start:end]), score, rank, doc.title, doc.metadata)


def make_answer(hit: Hit, text: str, *, score: float, occurrence: int = 0) -> Answer:
    local = [m.start() for m in re.finditer(re.escape(text), hit.chunk.text)][occurrence]
    start = hit.chunk.start + local
    return Answer(text, score, hit.doc_id, hit.title, start, start + len(text), hit.chunk.text,
                  hit.chunk.start, hit.chunk.end, hit, "fake")


def response(answers=(), hits=(), *, question="Wann tagt der Rat?", abstained=None, tier=None,
             confidence=0.0) -> Response:
    abstained = not answers if abstained is None else abstained
    return Response(question, tuple(answers), tuple(hits), "fake", abstained, question,
                    confidence=confidence, tier=tier)


FIRST = make_hit(DOC, 0, 66)
SECOND = make_hit(DOC, 67, 123, rank=2, score=0.8)


# --- questions ------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["", "   ", "\n\t", None])
def test_empty_questions_get_a_friendly_error(raw):
    with pytest.raises(QAError, match="Bitte eine Frage"):
        questions.check_question(raw)


def test_long_question_is_refused_with_its_length():
    with pytest.raises(QAError, match="10.000 Zeichen"):
        questions.check_question("x" * 10_000)


@pytest.mark.parametrize("raw", [42, ["a"], {"q": 1}, b"bytes"])
def test_non_text_is_refused(raw):
    with pytest.raises(QAError, match="als Text"):
        questions.check_question(raw)


def test_question_whitespace_and_control_characters_collapse():
    assert questions.check_question("  Wer\x00 ist\n\n Biden? ") == "Wer ist Biden?"


@pytest.mark.parametrize("text, language", [
    ("Wie viele Menschen sind gestorben?", "de"),
    ("Wer hat das gesagt?", "de"),
    ("How many people were killed in the Donbass?", "en"),
    ("What did Biden offer Ukraine?", "en"),
    ("Und wann?", "de"),
    ("And when?", "en"),
])
def test_detect_language(text, language):
    assert questions.detect_language(text) == language


# --- follow-ups -----------------------------------------------------------------------------

@pytest.mark.parametrize("question, history, expected", [
    ("Und wann?", ["Wer hat Selenskyj Unterstützung zugesichert?"],
     "Wann hat Selenskyj Unterstützung zugesichert?"),
    ("Wer noch?", ["Wer hat Selenskyj Unterstützung zugesichert?"],
     "Wer noch hat Selenskyj Unterstützung zugesichert?"),
    ("And when?", ["Who promised Ukraine support?"], "When promised Ukraine support?"),
    ("Who else?", ["Who promised Ukraine support?"], "Who else promised Ukraine support?"),
    ("Und wann?", ["Wie viele Menschen sind im Donbass getötet worden?"],
     "Wann Menschen sind im Donbass getötet worden?"),
    ("Und wo?", ["Seit wann gibt es Sanktionen?"], "Wo gibt es Sanktionen?"),
    ("Und seit wann?", ["Wie viele Menschen sind getötet worden?"],
     "Seit wann Menschen sind getötet worden?"),
    ("Wie viele noch?", ["Wer ist gestorben?"], "Wie viele noch ist gestorben?"),
    ("Und die OSZE?", ["Wann ist die Sitzung des Nato-Russland-Rates?"],
     "Wann ist die Sitzung der OSZE?"),
    ("What about NATO?", ["How many troops does Russia have?"], "How many troops does NATO have?"),
    ("Die Nato?", ["Wann sind Gespräche geplant?"], "Wann sind Gespräche geplant – und die Nato?"),
    ("Und Macron?", ["Biden Selenskyj Telefonat"], "Biden Selenskyj Telefonat – und Macron?"),
    ("And Macron?", ["Biden phone call Zelensky"], "Biden phone call Zelensky – and Macron?"),
    ("Und?", ["Wann sind Gespräche geplant?"], "Wann sind Gespräche geplant?"),
    ("Wann?", ["Biden Selenskyj Telefonat"], "Wann Biden Selenskyj Telefonat?"),
])
def test_elliptic_followups_are_resolved_against_the_previous_question(question, history, expected):
    assert questions.resolve_followup(question, history) == expected


@pytest.mark.parametrize("question, previous, expected", [
    # the last noun phrase is replaced; a genitive/dative article follows its case
    ("Und die Nato?", "Wann ist die Sitzung des Nato-Russland-Rates?", "Wann ist die Sitzung der Nato?"),
    ("Und der Kreml?", "Was fordert die Regierung der Ukraine?", "Was fordert die Regierung des Kreml?"),
    ("Und Georgien?", "Wer hat der Ukraine Sicherheitsgarantien angeboten?",
     "Wer hat Georgien Sicherheitsgarantien angeboten?"),
    ("Und die Krim?", "Wie viele Menschen sind im Donbass getötet worden?",
     "Wie viele Menschen sind in der Krim getötet worden?"),
    # a topic with a preposition replaces the last prepositional phrase
    ("Und in Luhansk?", "Wie viele Menschen sind im Donbass getötet worden?",
     "Wie viele Menschen sind in Luhansk getötet worden?"),
    ("Und Belarus?", "Wie viele Soldaten hat Russland an der Grenze zur Ukraine stationiert?",
     "Wie viele Soldaten hat Russland an der Grenze zu Belarus stationiert?"),
    # English: names (capitalised runs) are the noun phrases
    ("And the OSCE?", "When is the NATO-Russia Council meeting?", "When is the OSCE meeting?"),
    ("And Russia?", "What did Biden offer Ukraine?", "What did Biden offer Russia?"),
    # nothing identifiable: the topic is attached, the previous question kept whole
    ("Und Frankreich?", "Was hat Biden Selenskyj angeboten?",
     "Was hat Biden Selenskyj angeboten – und Frankreich?"),
    # "Und" before a whole question: the question stands on its own
    ("Und was sagt Putin?", "Wann ist die Sitzung des Nato-Russland-Rates?", "Was sagt Putin?"),
])
def test_a_new_topic_replaces_the_previous_questions_last_noun_phrase(question, previous, expected):
    assert questions.resolve_followup(question, [previous]) == expected


def test_a_topic_swap_keeps_the_rest_of_the_question():
    """The regression: "Und die Nato?" used to become "Wann die Nato?"."""
    resolved = questions.resolve_followup("Und die Nato?", ["Wann ist die Sitzung des Nato-Russland-Rates?"])
    assert resolved.startswith("Wann ist die Sitzung") and "Nato" in resolved
    assert not questions.is_followup(resolved)


def test_followups_chain_through_resolved_turns():
    history = ["Wann ist die Sitzung des Nato-Russland-Rates?", "Und die OSZE?"]
    assert questions.resolve_followup("Und wo?", history) == "Wo ist die Sitzung der OSZE?"
    history = ["Wer hat der Ukraine Sicherheitsgarantien angeboten?", "Und wann?"]
    assert questions.resolve_followup("Und wo?", history) == (
        "Wo hat der Ukraine Sicherheitsgarantien angeboten?")


@pytest.mark.parametrize("question", [
    "Wie viele Menschen sind im Donbass getötet worden?",
    "Wer ist Biden?",
    "How many people were killed in the Donbass?",
])
def test_full_questions_are_left_alone(question):
    assert not questions.is_followup(question)
    assert questions.resolve_followup(question, ["Wann tagt der Rat?"]) == question


def test_followup_without_history_is_left_alone():
    assert questions.resolve_followup("Und wann?", []) == "Und wann?"
    assert questions.resolve_followup("Und wann?", None) == "Und wann?"


def test_followup_after_only_followups_is_left_alone():
    assert questions.resolve_followup("Und wann?", ["Wer noch?"]) == "Und wann?"


def test_resolving_twice_changes_nothing():
    history = ["Wer hat Selenskyj Unterstützung zugesichert?"]
    once = questions.resolve_followup("Und wann?", history)
    assert questions.resolve_followup(once, history) == once


# --- escaping -------------------------------------------------------------------------------

def test_escape_html_neutralises_tags_and_attributes():
    escaped = render.escape_html(HOSTILE)
    assert "<" not in escaped and ">" not in escaped and '"' not in escaped


def test_escape_markdown_leaves_no_markup():
    escaped = render.escape_markdown(HOSTILE)
    assert "<" not in escaped and ">" not in escaped
    # every Markdown-active character is preceded by a backslash
    for char in "[]()!*":
        assert re.search(r"(?<!\\)" + re.escape(char), escaped) is None, char
    assert "www\\.e\\.vil" in escaped  # no autolink


def test_escape_markdown_collapses_indentation():
    assert render.escape_markdown("    code\n\n    block") == "code block"


# --- presenting -----------------------------------------------------------------------------

def test_answer_message_has_bold_answer_confidence_and_numbered_citations():
    best = make_answer(FIRST, "12. Januar", score=0.8)
    alt = make_answer(SECOND, "13 000", score=0.5)
    view = present.present(response([best, alt], [FIRST, SECOND], confidence=0.87))
    text = render.answer_markdown(view)
    assert text.startswith('**12\\. Januar** <a class="qa-cite" href="#qa-cite-1" title="Quelle 1: ')
    # the calibrated confidence the tiers are cut from, not the reader's 80 % for the span
    assert "Einschätzung: sicher (87 %)" in text and "prüfen" not in text
    # alternatives carry no percentage: the reader's span score is not the confidence above
    assert 'Andere mögliche Antworten: 13 000 <a class="qa-cite" href="#qa-cite-2"' in text
    assert "[1]</a> Titel &lt;b&gt;A&lt;/b&gt; · dpa · 04\\.09\\.2025" in text
    assert [c.number for c in view.citations] == [1, 2]


def test_uncertain_answers_are_flagged_for_a_check_in_the_users_language():
    best = make_answer(FIRST, "12. Januar", score=0.8)
    view = present.present(response([best], [FIRST], tier="uncertain", confidence=0.42))
    text = render.answer_markdown(view)
    assert "Einschätzung: unsicher (42 %) – bitte die markierte Quelle prüfen" in text
    english = present.present(response([best], [FIRST], question="When does the council meet?",
                                    tier="uncertain", confidence=0.42))
    assert "Assessment: uncertain (42 %) – please check the highlighted source" in render.answer_markdown(english)
    data = present.response_json(view)
    assert data["tier"] == "uncertain" and data["confidence"] == 0.42 and not data["abstained"]
    refused = present.response_json(present.present(response([], [FIRST], tier="none", abstained=True)))
    assert refused["tier"] == "none" and refused["abstained"] and refused["answers"] == []


def test_answers_from_one_passage_share_one_citation():
    best = make_answer(FIRST, "12. Januar", score=0.6)
    alt = make_answer(FIRST, "Nato-Russland-Rates", score=0.4)
    view = present.present(response([best, alt], [FIRST]))
    assert len(view.citations) == 1
    assert view.citation_for(alt).number == 1


def test_alternatives_only_when_close_and_at_most_two():
    best = make_answer(FIRST, "12. Januar", score=0.6)
    close = [make_answer(SECOND, w, score=s) for w, s in
             (("13 000", 0.35), ("Menschen", 0.32), ("Donbass", 0.31))]
    far = make_answer(SECOND, "getötet", score=0.1)
    view = present.present(response([best, *close, far], [FIRST, SECOND]))
    assert [a.text for a in view.alternatives] == ["13 000", "Menschen"]
    view = present.present(response([best, far], [FIRST, SECOND]))
    assert view.alternatives == ()


def test_duplicate_answer_texts_are_not_alternatives():
    best = make_answer(FIRST, "12. Januar", score=0.6)
    same = make_answer(FIRST, "12. Januar", score=0.5)
    assert present.present(response([best, same], [FIRST])).alternatives == ()


def test_abstention_says_so_in_the_question_language_and_lists_closest_passages():
    view = present.present(response([], [FIRST, SECOND]))
    text = render.answer_markdown(view)
    assert text.startswith("Dazu finde ich in den Artikeln keine Antwort.")
    assert 'href="#qa-cite-1"' in text and 'href="#qa-cite-2"' in text and "Sitzung des Nato" in text
    english = present.present(response([], [FIRST], question="When does the council meet?"))
    assert render.answer_markdown(english).startswith("I can't find an answer to that in the articles.")


def test_threshold_turns_weak_answers_into_an_abstention():
    weak = make_answer(FIRST, "12. Januar", score=0.2)
    assert present.present(response([weak], [FIRST]), threshold=0.3).abstained
    assert not present.present(response([weak], [FIRST]), threshold=0.2).abstained


def test_resolved_followup_is_shown():
    best = make_answer(FIRST, "12. Januar", score=0.8)
    resolved = Response("Und die Nato?", (best,), (FIRST,), "fake", False, "Wann die Nato?")
    text = render.answer_markdown(present.present(resolved, question="Und die Nato?"))
    assert text.startswith("*Verstanden als: Wann die Nato?*")


def test_answer_text_from_a_hostile_article_is_escaped_in_the_chat():
    doc = Document("h.txt", "<script>t</script>", "x " + HOSTILE + " y")
    hit = make_hit(doc, 0, len(doc.text))
    answer = make_answer(hit, "<script>window.__pwned=1</script>", score=0.9)
    text = render.answer_markdown(present.present(response([answer], [hit])))
    assert "<script" not in text and "&lt;script&gt;" in text


# --- highlights -----------------------------------------------------------------------------

def test_highlight_marks_exactly_the_answer_offsets():
    best = make_answer(SECOND, "13 000", score=0.9)
    view = present.present(response([best], [SECOND]))
    rendered = render.sources_html(view)
    marked = re.findall(r'<mark class="qa-answer">(.*?)</mark>', rendered)
    assert marked == ["13 000"]
    assert TEXT[best.start:best.end] == "13 000"


def test_highlight_uses_offsets_not_text_search():
    # "Menschen" occurs twice; the answer is the second one, and only that one is marked.
    doc = Document("m.txt", "M", "Menschen helfen Menschen.")
    hit = make_hit(doc, 0, len(doc.text))
    answer = make_answer(hit, "Menschen", score=0.9, occurrence=1)
    html = render.highlight(doc.text, offset=0, spans=[(answer.start, answer.end, "qa-answer")])
    assert html == 'Menschen helfen <mark class="qa-answer">Menschen</mark>.'


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=80), st.data())
def test_highlight_round_trips_any_text(text, data):
    offset = data.draw(st.integers(0, 50))
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    rendered = render.highlight(text, offset=offset, spans=[(offset + start, offset + end, "m")])
    inner = re.search(r'<mark class="m">(.*?)</mark>', rendered, re.S).group(1)
    import html as html_module
    assert html_module.unescape(inner) == text[start:end]
    assert html_module.unescape(re.sub(r"</?mark[^>]*>", "", rendered)) == text
    assert "<" not in re.sub(r"</?mark[^>]*>", "", rendered)


def test_highlight_skips_spans_outside_the_passage():
    assert render.highlight("abc", offset=10, spans=[(5, 12, "m")]) == "abc"


def test_article_marks_passage_and_answer_at_document_offsets():
    best = make_answer(SECOND, "13 000", score=0.9)
    view = present.present(response([best], [SECOND]))
    html = render.citation_article_html(view, 1, {"a.txt": DOC})
    assert '<span class="qa-passage-mark" id="qa-passage">' in html
    passage = re.search(r'id="qa-passage">(.*?)</span>', html, re.S).group(1)
    assert re.sub(r"</?mark[^>]*>", "", passage) == TEXT[SECOND.chunk.start:SECOND.chunk.end]
    assert '<mark class="qa-answer">13 000</mark>' in passage
    assert "Titel &lt;b&gt;A&lt;/b&gt;" in html


def test_unknown_citation_is_a_qa_error():
    view = present.present(response([make_answer(FIRST, "12. Januar", score=0.9)], [FIRST]))
    with pytest.raises(QAError):
        render.citation_article_html(view, 7, {"a.txt": DOC})


def test_hostile_article_renders_inert_everywhere():
    doc = Document('x"><script>.txt', HOSTILE, HOSTILE, {"outlet": "<b>o</b>", "date": "<i>d</i>"})
    hit = make_hit(doc, 0, len(doc.text))
    view = present.present(response([], [hit]))
    for html in (render.sources_html(view), render.article_html(doc, passage=(0, 10)),
                 render.article_list_html({doc.doc_id: doc})):
        assert "<script" not in html and "<img" not in html and "<b>" not in html
        assert "onerror=&quot;" in html


def test_article_list_shows_title_outlet_date_and_length():
    html = render.article_list_html({"a.txt": DOC})
    assert 'data-doc="a.txt"' in html
    for cell in ("Titel &lt;b&gt;A&lt;/b&gt;", "dpa", "04.09.2025", f"<td class=\"qa-num-cell\">{len(TEXT.split())}</td>"):
        assert cell in html


# --- API data -------------------------------------------------------------------------------

def test_response_json_has_answers_citations_and_every_passage():
    best = make_answer(FIRST, "12. Januar", score=0.8)
    alt = make_answer(SECOND, "13 000", score=0.5)
    data = present.response_json(present.present(response([best, alt], [FIRST, SECOND])))
    json.dumps(data)
    assert data["abstained"] is False and data["message"] == "12. Januar"
    assert [(a["text"], a["citation"]) for a in data["answers"]] == [("12. Januar", 1), ("13 000", 2)]
    assert data["answers"][0]["start"] == best.start and data["answers"][0]["end"] == best.end
    cited = data["citations"][1]
    assert TEXT[cited["start"]:cited["end"]] == cited["text"]
    assert [p["rank"] for p in data["passages"]] == [1, 2]
    assert cited["metadata"] == {"outlet": "dpa", "date": "04.09.2025"}


def test_view_to_dict_for_an_abstention():
    data = present.response_json(present.present(response([], [FIRST])))
    assert data["abstained"] is True and data["answers"] == []
    assert data["message"] == present.NO_ANSWER["de"] and len(data["citations"]) == 1


# --- status line, page numbers, adding articles ------------------------------------------------

def test_status_line_names_mode_index_and_reader():
    status = system.SystemStatus(articles=4, passages=27, mode="hybrid", embedder="multilingual-e5-small",
                               index_kind="flat", reader="e5-small-qa-de")
    assert render.status_line(status) == ("4 articles · 27 passages · hybrid retrieval (BM25 + "
                                        "multilingual-e5-small) · flat index · reader e5-small-qa-de")
    assert render.status_line(system.SystemStatus(articles=1, passages=1, mode="bm25")) == (
        "1 article · 1 passage · BM25 retrieval")
    assert "&lt;b&gt;" in render.header_html(system.SystemStatus(articles=1, reader="<b>"))


def _pdf_hit(start, end, page_starts="0,100,200"):
    from embeddings.chunking import Chunk

    chunk = Chunk("bericht.pdf", start, end, "x" * (end - start))
    return Hit(chunk=chunk, score=0.5, rank=1, title="Bericht",
               metadata={"pages": "3", "page_starts": page_starts})


@pytest.mark.parametrize("start, end, language, expected", [
    (10, 50, "en", "page 1"), (120, 150, "de", "Seite 2"), (90, 210, "en", "pages 1-3"),
    (150, 250, "de", "Seiten 2-3"),
])
def test_pdf_passages_name_their_pages(start, end, language, expected):
    assert present.pages_of(_pdf_hit(start, end), language) == expected


def test_passages_without_a_page_map_have_no_page():
    assert present.pages_of(_pdf_hit(0, 5, page_starts=""), "de") is None


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "etc-passwd.txt"), ("..", "article.txt"), (".bashrc", "bashrc.txt"),
    ("Ölpreis: Ärger über Maß", "oelpreis-aerger-ueber-mass.txt"), ("", "article.txt"),
    ("C:\\Windows\\win.ini", "c-windows-win-ini.txt"), ("a" * 200, "a" * intake.FILE_STEM_CHARS + ".txt"),
])
def test_article_file_names_are_safe(name, expected):
    assert intake.article_file_name(name) == expected


def test_pasted_article_puts_the_title_first_and_unifies_line_ends():
    name, content = intake.pasted_article("  Neue   Lage ", "Erster Absatz.\r\n\r\nZweiter\x07 Absatz.")
    assert (name, content) == ("neue-lage.txt", "Neue Lage\n\nErster Absatz.\n\nZweiter Absatz.\n")


@pytest.mark.parametrize("name, data, expected", [
    ("a.txt", b"Titel\n\nText", "a.txt"),
    ("Bericht 2025.PDF", b"%PDF-1.4\n...", "bericht-2025.pdf"),
    ("Seite.htm", b"<html>", "seite.html"),
    ("../x.md", b"# x", "x.md"),
])
def test_check_upload_gives_a_safe_name(tmp_path, name, data, expected):
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    assert intake.check_upload(path, original_name=name) == expected


@pytest.mark.parametrize("name, data, expected", [
    ("a.exe", b"MZ", "cannot be added"), ("a.pdf", b"PK\x03\x04", "not a PDF"),
    ("a.txt", b"\x00\x01\x02", "binary file"), ("a.txt", b"", "is empty"),
])
def test_check_upload_refuses_with_the_reason(tmp_path, name, data, expected):
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    with pytest.raises(QAError, match=expected):
        intake.check_upload(path, original_name=name)


def test_added_and_refused_messages_are_escaped():
    from embeddings.documents import Document

    doc = Document("x.txt", "<script>alert(1)</script>", "text")
    assert "<script>" not in render.added_html(doc, outcome="added", passages=1)
    assert "<img" not in render.refused_html('<img src=x onerror="alert(1)">')


def test_an_abstention_names_what_the_passages_do_not_mention():
    base = response([], [FIRST], question="Wann tagt der Rat in Oslo?")
    plain = render.answer_markdown(present.present(base))
    assert "erwähnen nicht" not in plain
    unmentioned = Response(base.question, (), base.hits, "fake", True, base.question,
                           unmentioned=("Oslo", "<b>x</b>"))
    text = render.answer_markdown(present.present(unmentioned))
    assert "Die gefundenen Stellen erwähnen nicht: Oslo, " in text
    assert "<b>" not in text  # terms are escaped like everything else
    assert present.response_json(present.present(unmentioned))["unmentioned"] == ["Oslo", "<b>x</b>"]
    assert present.response_json(present.present(base))["unmentioned"] == []
