"""app.py on a fake pipeline: the chat's handlers, the /ask API, start-up configuration."""
from __future__ import annotations

import argparse
import socket
from pathlib import Path

import gradio as gr
import pytest

import app
from qa.cli import build_parser
from qa.errors import QAError
from qa.settings import REPO_ROOT, Settings
from tests.fakes import FakePipeline, fake_documents

SEEDS = REPO_ROOT / "seeds"
QUESTION = "Wie viele Menschen sind im Donbass getötet worden?"


@pytest.fixture(scope="module")
def documents():
    return fake_documents(SEEDS)


@pytest.fixture
def pipeline(documents):
    return FakePipeline(documents)


@pytest.fixture
def service(pipeline):
    return app.ChatService(pipeline, settings=Settings())


def ask_in_chat(service, question, messages=(), turns=(), **settings):
    _, messages, turns, pending = service.show_question(question, list(messages), list(turns))
    values = dict(k=5, top_n=3, threshold=None, doc_ids=[], current_view=None) | settings
    messages, turns, sources, view, _ = service.answer_turn(pending, messages, turns, **values)
    return messages, turns, sources, view


def test_a_question_gets_an_answer_with_citation_and_sources(service):
    messages, turns, sources, view = ask_in_chat(service, QUESTION)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"].startswith(f"**{app.chat.escape_markdown(view.answer.text)}** \\[1\\]")
    assert "Sicherheit:" in messages[1]["content"]
    assert 'class="qa-answer"' in sources and 'data-cite="1"' in sources
    assert turns[0] is None and turns[1].view is view


@pytest.mark.parametrize("question, expected", [
    ("", "Bitte eine Frage eingeben"),
    ("   ", "Bitte eine Frage eingeben"),
    ("x" * 10_000, "Die Frage ist 10"),
    (12345, "Bitte eine Frage als Text"),
    (None, "Bitte eine Frage eingeben"),
])
def test_bad_input_gets_a_friendly_message_not_a_traceback(service, pipeline, question, expected):
    messages, _, _, view = ask_in_chat(service, question)
    assert view is None and expected in messages[-1]["content"]
    assert messages[-1]["role"] == "assistant" and pipeline.calls == []


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
    assert "Something went wrong" in messages[-1]["content"] and "boom" not in messages[-1]["content"]
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
    assert "\\[1\\]" in messages[-1]["content"] and "qa-card" in sources


def test_selecting_a_message_shows_its_sources(service):
    messages, turns, _, first = ask_in_chat(service, QUESTION)
    messages, turns, _, second = ask_in_chat(service, "Wo finden Gespräche in Genf statt?", messages, turns)
    for index in (0, 1):  # the question or its answer
        html, view, _ = service.select_message(turns, gr.SelectData(None, {"index": index, "value": None}))
        assert view is first
    html, view, _ = service.select_message(turns, gr.SelectData(None, {"index": 3, "value": None}))
    assert view is second


def test_opening_a_citation_shows_the_article_with_the_answer_marked(service, documents):
    _, _, _, view = ask_in_chat(service, QUESTION)
    html, tabs = service.open_citation(view, gr.EventData(None, {"number": 1}))
    answer = view.answer
    document = next(d for d in documents if d.doc_id == answer.doc_id)
    assert f'<mark class="qa-answer">{app.chat.escape_html(document.text[answer.start:answer.end])}</mark>' in html
    assert 'id="qa-passage"' in html and tabs.selected == "article"
    html, _ = service.open_citation(view, gr.EventData(None, {"number": 9}))
    assert "no citation [9]" in html


def test_opening_a_document_from_the_list(service, documents):
    html, _ = service.open_document(gr.EventData(None, {"doc_id": documents[0].doc_id}))
    assert documents[0].text[:40].split()[0] in html
    assert service.open_document(gr.EventData(None, {"doc_id": "missing"}))[0] is not None


def test_api_ask_returns_answers_with_citations_as_data(service):
    data = service.api_ask(QUESTION, k=5, top_n=3)
    assert data["answers"] and data["citations"][0]["number"] == 1
    first = data["answers"][0]
    assert first["citation"] == 1 and first["end"] > first["start"]
    with pytest.raises(gr.Error, match="Bitte eine Frage"):
        service.api_ask("")


def test_blocks_build_with_a_named_ask_endpoint_and_a_queue(service):
    blocks = app.build_app(service)
    names = [d.get("api_name") for d in blocks.config["dependencies"] if d.get("api_visibility") == "public"]
    assert names == ["ask"]
    assert blocks._queue.default_concurrency_limit == 2
    assert blocks._queue.max_size == app.QUEUE_SIZE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_ask_endpoint_over_http_with_gradio_client(service):
    from gradio_client import Client

    blocks = app.build_app(service)
    app.launch(blocks, host="127.0.0.1", port=_free_port(), prevent_thread_lock=True)
    try:
        client = Client(blocks.local_url, verbose=False)
        data = client.predict(question=QUESTION, api_name="/ask")
        assert data["abstained"] is False and data["answers"][0]["citation"] == 1
        followup = client.predict(question="Und wann?", history=[QUESTION], api_name="/ask")
        assert followup["retrieval_query"] == "Wann Menschen sind im Donbass getötet worden?"
    finally:
        blocks.close()


# --- start-up -------------------------------------------------------------------------------

def test_auth_needs_both_variables():
    assert app.auth_from_env({}) is None
    assert app.auth_from_env({"QA_AUTH_USER": "u", "QA_AUTH_PASSWORD": "p"}) == ("u", "p")
    with pytest.raises(QAError, match="QA_AUTH_PASSWORD"):
        app.auth_from_env({"QA_AUTH_USER": "u"})


def parse(argv):
    parser = argparse.ArgumentParser()
    app.add_serve_arguments(parser)
    return parser.parse_args(argv)


def test_flags_override_environment_and_defaults(tmp_path):
    args = parse(["--port", "9000", "--corpus", str(tmp_path), "--reader", "my/reader"])
    settings = app.settings_from_args(args, {"QA_PORT": "8000", "QA_HOST": "0.0.0.0"})
    assert (settings.port, settings.host, settings.corpus_dir) == (9000, "0.0.0.0", Path(tmp_path))
    assert settings.reader_model == "my/reader" and settings.embedding_model == "e5-small"


def test_start_up_log_says_which_models_and_why():
    lines = app.model_choice_reasons(parse(["--reader", "x/y"]), {"QA_EMBEDDING_MODEL": "m"})
    assert lines[0].startswith("embedding model: m") and "set by QA_EMBEDDING_MODEL" in lines[0]
    assert lines[1].startswith("reader: x/y") and "set by --reader" in lines[1]
    lines = app.model_choice_reasons(parse([]), {})
    assert "offline default" in lines[0] and "offline default" in lines[1]


def test_qa_serve_is_a_command_with_the_same_flags():
    args = build_parser().parse_args(["serve", "--port", "7000", "--share"])
    assert args.port == 7000 and args.share and args.handler.__module__ == "qa.commands.serve"
