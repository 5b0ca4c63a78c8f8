"""The chat's page: its Gradio components, laid out, and the events that connect them to a
ChatService's handlers (qa/web/app.py); ``launch`` serves it with the theme, CSS and scripts of
qa/web/assets.py. Everything shown is rendered by qa/web/render.py."""
from __future__ import annotations

from functools import partial
from types import SimpleNamespace
from typing import Callable, Mapping, Sequence

import gradio as gr

from embeddings import intake
from embeddings.documents import Document
from qa.web import render
from qa.web.app import ChatService, article_choices
from qa.web.assets import (ARTICLE_JS, CITE_BRIDGE_JS, CSS, DOCUMENTS_JS, LANG_JS, PAGE_JS, SOURCES_JS,
                           THEME)
from qa.web.texts import DEFAULT_LANGUAGE, pick_language, texts

QUEUE_SIZE = 200
# Gradio keeps every session's copy of the page config (and its last outputs) until this many
# newer sessions push it out: 75-90 KB for an API client, more for a long chat. Its default
# of 10,000 let that grow by ~4.5 MB per 50 new users for 10,000 sessions (benchmarks/soak_app.py).
SESSION_CAPACITY = 1000
# Files Gradio serves (exported conversations, uploaded articles) are deleted hourly once a
# day old, and all of them when the server stops.
CACHE_CLEANUP = (3600, 86400)
SEED_EXAMPLES = (
    "Wie viele Menschen sind im Donbass getötet worden?",
    "Wo finden die Gespräche der USA mit Russland statt?",
    "When is the NATO-Russia Council meeting?",
    "What did Biden offer Ukraine?",
)
# Runs in the page as a question is sent: numbers it (``sent``) and passes the page's
# language on (``lang``, for the hint under the box).
SENT_JS = "({inputs}, sent, lang) => [{inputs}, (window.qaSent = (window.qaSent || 0) + 1), lang]"
# The question box is emptied in the page the moment a question is sent, not by the server's
# answer to it: under load that answer came after the next question was typed and wiped it
# (a second question sent right after the first was lost, 2 of 6 tries with the cores busy).
# The question itself is the box's text as PAGE_JS noted it on Enter or on a click of Ask
# (window.qaTyped): Gradio reads the box a tick later, and a question typed and sent within
# that tick was read twice and the one before it never. Notes older than 5 s are not used.
ASK_JS = """(text, turns, sent, lang) => {
  const fresh = (window.qaTyped || []).filter((typed) => Date.now() - typed.at < 5000);
  const noted = fresh.shift();
  window.qaTyped = fresh;
  const question = noted === undefined ? text : noted.text;
  const box = document.querySelector('#qa-question textarea');
  if (box && box.value === question) {
    box.value = '';
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }
  return [question, turns, (window.qaSent = (window.qaSent || 0) + 1), lang];
}"""
# Gradio's own cap on an upload: twice the article limit, so anything between gets our
# clear "too large" message and nothing much larger is ever written to disk.
UPLOAD_LIMIT = f"{2 * intake.MAX_ARTICLE_BYTES // 1_000_000}mb"


class _Page(SimpleNamespace):
    """The page's components by name, so the parts that build them and the events that wire
    them can be separate functions."""


def build_app(service: ChatService, *, examples: Sequence[str] = SEED_EXAMPLES,
              allow_add: bool = True, lang: str = DEFAULT_LANGUAGE) -> gr.Blocks:
    """The Blocks for ``service``; launch with :func:`launch` (theme and CSS go there).
    ``allow_add=False`` (``--read-only``) hides "Add an article". The page is built in
    ``lang``; a visitor's page switches with its language button or ``?lang=``."""
    t = texts(lang)
    with gr.Blocks(title=t["page_title"], analytics_enabled=False, delete_cache=CACHE_CLEANUP) as blocks:
        page = _Page(
            turns=gr.State([]),         # the conversation, one Turn per chat message
            shown_view=gr.State(None),  # the AnswerView whose sources the inspector shows
            voted=gr.State(None),       # the message whose 👎 the right answer belongs to
            # the interface's language; a hidden box (not a State) so its change can run JS
            lang=gr.Textbox(lang, visible=False, elem_id="qa-lang"),
        )
        with gr.Row(equal_height=False, elem_id="qa-top"):
            page.header = gr.HTML(render.header_html(service.status(), lang=lang), js_on_load=None)
            page.switch = gr.Button(t["switch_language"], size="sm", variant="secondary", scale=0,
                                    min_width=90, elem_id="qa-language")
        with gr.Row(equal_height=False):
            with gr.Column(scale=6, min_width=380):
                _chat(page, examples, t)
                with gr.Row(elem_id="qa-tools"):
                    page.clear = gr.Button(t["new_conversation"], size="sm", variant="secondary")
                    page.export = gr.DownloadButton(t["export"], size="sm", variant="secondary",
                                                    elem_id="qa-export", interactive=False)
                _feedback_panel(page, t)
            with gr.Column(scale=5, min_width=360):
                _inspector(page, service.documents, lang)
        with gr.Row(equal_height=False):
            _settings_panel(page, service, t)
            _add_panel(page, t, visible=allow_add and service.can_add)
        _wire(blocks, page, service, lang)
    blocks.queue(default_concurrency_limit=2, max_size=QUEUE_SIZE)
    return blocks


def _chat(page: _Page, examples: Sequence[str], t) -> None:
    """The conversation, the question box with its button, and the example questions."""
    page.chatbot = gr.Chatbot(
        label=t["chat_label"], show_label=False, elem_id="qa-chat", height=540, latex_delimiters=[],
        sanitize_html=True, render_markdown=True, feedback_options=("Like", "Dislike"),
        buttons=["copy"], layout="bubble", group_consecutive_messages=False,  # two questions: two bubbles
        placeholder=t["placeholder_chat"],
    )
    with gr.Row(equal_height=True):
        page.question = gr.Textbox(
            label=t["question_label"], show_label=False, placeholder=t["question_placeholder"],
            lines=1, max_lines=4, scale=8, elem_id="qa-question", autofocus=True)
        page.ask_button = gr.Button(t["ask"], variant="primary", scale=1, min_width=80, elem_id="qa-ask")
    page.hint = gr.HTML("", visible=False, elem_id="qa-hint", padding=False)  # "type a question"
    page.sent = gr.Number(None, visible=False)  # set by SENT_JS as each question is sent
    # the bridge for citation links in the chat (CITE_JS calls window.qaCite)
    page.cite = gr.HTML("", js_on_load=CITE_BRIDGE_JS, elem_id="qa-cite-bridge", padding=False)
    page.example_buttons = []
    if examples:
        with gr.Column(elem_id="qa-examples"):
            for row_start in range(0, len(examples), 2):
                with gr.Row(equal_height=True):
                    for example in examples[row_start:row_start + 2]:
                        button = gr.Button(example, size="sm", variant="secondary")
                        page.example_buttons.append((button, example))


def _feedback_panel(page: _Page, t) -> None:
    """After 👍/👎 under an answer: the confirmation, and after 👎 a box for the right answer."""
    page.feedback_note = gr.HTML("", elem_id="qa-feedback", padding=False)
    with gr.Row(visible=False, elem_id="qa-correct-row", equal_height=True) as page.correct_row:
        page.correct = gr.Textbox(label=t["correct_label"], placeholder=t["correct_placeholder"],
                                  max_lines=1, scale=4, elem_id="qa-correct")
        page.correct_send = gr.Button(t["correct_send"], size="sm", scale=1, elem_id="qa-correct-send")


def _settings_panel(page: _Page, service: ChatService, t) -> None:
    """Passages to read, answers to show, the abstention threshold and an article filter."""
    settings = service.settings
    with gr.Accordion(t["settings"], open=False, elem_id="qa-settings") as page.settings:
        with gr.Row():
            page.k = gr.Slider(1, 20, value=settings.k, step=1, label=t["k"], info=t["k_info"])
            page.top_n = gr.Slider(1, 3, value=min(settings.top_n, 3), step=1, label=t["top_n"],
                                   info=t["top_n_info"])
        page.threshold = gr.Slider(0.0, 1.0, value=service.default_threshold, step=0.05,
                                   label=t["threshold"], info=t["threshold_info"], elem_id="qa-threshold")
        page.restrict = gr.Dropdown(choices=article_choices(service.documents), value=[], multiselect=True,
                                    label=t["restrict"], info=t["restrict_info"])


def _add_panel(page: _Page, t, *, visible: bool) -> None:
    """"Add an article": an upload, or a pasted title and text."""
    with gr.Accordion(t["add"], open=False, elem_id="qa-add", visible=visible) as page.add:
        page.upload = gr.File(label=t["upload"], file_types=list(intake.ARTICLE_SUFFIXES), type="filepath",
                              elem_id="qa-add-file", height=110)
        page.new_title = gr.Textbox(label=t["new_title"], max_lines=1, elem_id="qa-add-title")
        page.new_url = gr.Textbox(label=t["new_url"], max_lines=1, elem_id="qa-add-url",
                                  placeholder=t["new_url_placeholder"])
        page.new_text = gr.Textbox(label=t["new_text"], lines=5, max_lines=12, elem_id="qa-add-text",
                                   placeholder=t["new_text_placeholder"])
        page.replace = gr.Checkbox(False, label=t["replace"], info=t["replace_info"], elem_id="qa-add-replace")
        page.add_button = gr.Button(t["add_button"], variant="primary", size="sm", elem_id="qa-add-button")
        page.add_result = gr.HTML("", elem_id="qa-add-result")


def _inspector(page: _Page, documents: Mapping[str, Document], lang: str) -> None:
    """The tabs beside the chat: the cited sources, one whole article, all articles."""
    t = texts(lang)
    with gr.Tabs(selected="sources", elem_id="qa-inspector") as page.tabs:
        with gr.Tab(t["tab_sources"], id="sources") as page.sources_tab:
            page.sources = gr.HTML(render.sources_html(None, lang=lang),
                                   js_on_load=SOURCES_JS, elem_id="qa-sources", max_height=640, padding=True)
        with gr.Tab(t["tab_article"], id="article") as page.article_tab:
            page.article = gr.HTML(render.empty_html(t["article_empty"]), js_on_load=ARTICLE_JS,
                                   elem_id="qa-article", max_height=640)
        with gr.Tab(t["tab_documents"].format(count=len(documents)), id="documents") as page.documents_tab:
            page.document_list = gr.HTML(render.article_list_html(documents, lang=lang),
                                         js_on_load=DOCUMENTS_JS, elem_id="qa-documents", max_height=640,
                                         padding=True)


def _labels(page: _Page) -> list[tuple[gr.components.Component, Callable]]:
    """Every labelled component of the page, with its update for a language's texts (made
    only when called: an update made while the page is built would be a new component)."""
    return [
        (page.switch, lambda t: gr.Button(t["switch_language"])),
        (page.chatbot, lambda t: gr.Chatbot(label=t["chat_label"], placeholder=t["placeholder_chat"])),
        (page.question, lambda t: gr.Textbox(label=t["question_label"], placeholder=t["question_placeholder"])),
        (page.ask_button, lambda t: gr.Button(t["ask"])),
        (page.clear, lambda t: gr.Button(t["new_conversation"])),
        (page.export, lambda t: gr.DownloadButton(t["export"])),
        (page.correct, lambda t: gr.Textbox(label=t["correct_label"], placeholder=t["correct_placeholder"])),
        (page.correct_send, lambda t: gr.Button(t["correct_send"])),
        (page.settings, lambda t: gr.Accordion(label=t["settings"])),
        (page.k, lambda t: gr.Slider(label=t["k"], info=t["k_info"])),
        (page.top_n, lambda t: gr.Slider(label=t["top_n"], info=t["top_n_info"])),
        (page.threshold, lambda t: gr.Slider(label=t["threshold"], info=t["threshold_info"])),
        (page.restrict, lambda t: gr.Dropdown(label=t["restrict"], info=t["restrict_info"])),
        (page.add, lambda t: gr.Accordion(label=t["add"])),
        (page.upload, lambda t: gr.File(label=t["upload"])),
        (page.new_title, lambda t: gr.Textbox(label=t["new_title"])),
        (page.new_url, lambda t: gr.Textbox(label=t["new_url"], placeholder=t["new_url_placeholder"])),
        (page.new_text, lambda t: gr.Textbox(label=t["new_text"], placeholder=t["new_text_placeholder"])),
        (page.replace, lambda t: gr.Checkbox(label=t["replace"], info=t["replace_info"])),
        (page.add_button, lambda t: gr.Button(t["add_button"])),
        (page.sources_tab, lambda t: gr.Tab(label=t["tab_sources"])),
        (page.article_tab, lambda t: gr.Tab(label=t["tab_article"])),
    ]


def _wire(blocks: gr.Blocks, page: _Page, service: ChatService, built: str) -> None:
    """The events: asking (box, button, examples), selecting an answer, opening a source or an
    article, feedback, the export, a new conversation, adding an article, the language (the
    page was ``built`` in one), the page load, and the /ask API."""
    private = dict(api_visibility="private")
    # As many questions reach the system at once as it answers in one batch (QASystem.
    # concurrent_questions, from --batch-size); Gradio queues the rest.
    on_models = dict(concurrency_limit=service.system.concurrent_questions, concurrency_id="pipeline", **private)
    # Gradio drops a trigger while the same event is still pending ("once"); a second question
    # sent before the first one's round trip ended was lost. Each is shown and answered now.
    # Not queued: the box's text is read when Enter is pressed (a queued event read it later,
    # when the next question could already be typed there).
    show = dict(fn=service.show_question, inputs=[page.question, page.turns, page.sent, page.lang],
                outputs=[page.question, page.chatbot, page.turns, page.hint], queue=False,
                trigger_mode="multiple", js=SENT_JS.format(inputs="text, turns"), **private)
    answer = dict(fn=service.answer_turn,
                  inputs=[page.turns, page.k, page.top_n, page.threshold, page.restrict, page.shown_view,
                          page.lang],
                  outputs=[page.chatbot, page.turns, page.sources, page.shown_view, page.tabs],
                  trigger_mode="multiple", **on_models)
    exported = dict(fn=service.export_conversation, inputs=[page.turns, page.lang], outputs=[page.export],
                    queue=False, **private)
    # Typed questions: the page empties the box itself (ASK_JS); the server leaves it alone.
    typed = {**show, "fn": service.show_typed_question, "js": ASK_JS,
             "outputs": [page.chatbot, page.turns, page.hint]}
    for trigger in (page.question.submit, page.ask_button.click):
        trigger(**typed).then(**answer).then(**exported)
    for button, example in page.example_buttons:
        button.click(**{**show, "fn": partial(service.show_question, example),
                        "inputs": [page.turns, page.sent, page.lang], "js": SENT_JS.format(inputs="turns")}
                     ).then(**answer).then(**exported)
    page.chatbot.select(service.select_message, [page.turns, page.lang],
                        [page.sources, page.shown_view, page.tabs], **private)
    page.cite.cite(service.open_message_citation, [page.turns, page.lang],
                   [page.sources, page.shown_view, page.tabs], queue=False, **private)
    page.sources.open_citation(service.open_citation, [page.shown_view, page.lang], [page.article, page.tabs],
                               **private)
    page.document_list.open_document(service.open_document, [page.lang], [page.article, page.tabs], **private)
    # The Chatbot's own trash icon empties only its view; it resets the conversation too.
    for trigger in (page.clear.click, page.chatbot.clear):
        trigger(service.new_conversation, [page.turns, page.lang],
                [page.chatbot, page.turns, page.sources, page.shown_view, page.question],
                queue=False, **private).then(**exported)
    page.chatbot.like(service.record_vote, [page.turns, page.lang],
                      [page.feedback_note, page.correct_row, page.voted], **private)
    for trigger in (page.correct.submit, page.correct_send.click):
        trigger(service.record_correction, [page.turns, page.voted, page.correct, page.lang],
                [page.feedback_note, page.correct_row, page.correct], **private)
    corpus_outputs = [page.header, page.document_list, page.restrict, page.documents_tab]
    page.add_button.click(service.add_from_form,
                          [page.upload, page.new_title, page.new_text, page.replace, page.lang, page.new_url],
                          [page.add_result, *corpus_outputs, page.article, page.tabs, page.upload,
                           page.new_title, page.new_text, page.new_url],
                          # its own queue: adds take the writer lock one at a time anyway, and
                          # in the pipeline's group they held slots that questions then waited for
                          concurrency_limit=1, concurrency_id="adding", **private)
    labels = _labels(page)
    language_outputs = [page.lang, *corpus_outputs, *(c for c, _ in labels), page.chatbot, page.sources]

    def in_language(lang: str, turn_list: list | None, view) -> tuple:
        """The page in ``lang``: the labels, the corpus views, the messages and the sources."""
        t = texts(lang)
        return (lang, *service.corpus_views(lang), *(update(t) for _, update in labels),
                service.relabel(turn_list, lang), render.sources_html(view, lang=lang))

    def on_load(turn_list, view, request: gr.Request):
        """A page (re)load: the language ``?lang=`` asks for, and what other processes added
        meanwhile."""
        query = dict(request.query_params) if request is not None else {}
        lang = pick_language(query.get("lang"))
        if lang != built:
            return in_language(lang, turn_list, view)
        # the page is in its language already: only the corpus may have changed (labels sent
        # again re-rendered the components, and closed an accordion opened meanwhile)
        return (lang, *service.corpus_views(lang), *(gr.skip() for _ in labels), gr.skip(), gr.skip())

    def switch(lang, turn_list, view):
        return in_language("en" if lang == "de" else "de", turn_list, view)

    # Another visitor may have added articles since this page was served.
    blocks.load(on_load, [page.turns, page.shown_view], language_outputs, queue=False, **private).then(
        None, [page.lang], None, js=LANG_JS, queue=False, **private)  # also Gradio's own strings
    page.switch.click(switch, [page.lang, page.turns, page.shown_view], language_outputs, queue=False,
                      **private)
    page.lang.change(None, [page.lang], None, js=LANG_JS, queue=False, **private)
    blocks.unload(service.forget_session)  # the visitor's exported conversation goes with them
    gr.api(service.api_ask, api_name="ask", concurrency_limit=service.system.concurrent_questions,
           concurrency_id="pipeline")


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
        js=PAGE_JS,
        ssr_mode=False,
        show_error=False,
        quiet=prevent_thread_lock,
        footer_links=["api"],
        max_file_size=UPLOAD_LIMIT,
        state_session_capacity=SESSION_CAPACITY,
    )


