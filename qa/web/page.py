"""The chat's page: its Gradio components, laid out, and the events that connect them to a
ChatService's handlers (qa/web/app.py); ``launch`` serves it with the theme, CSS and scripts of
qa/web/assets.py. Everything shown is rendered by qa/web/render.py."""
from __future__ import annotations

from functools import partial
from types import SimpleNamespace
from typing import Mapping, Sequence

import gradio as gr

from embeddings import intake
from embeddings.documents import Document
from qa.web import render
from qa.web.app import PIPELINE_CONCURRENCY, ChatService, article_choices
from qa.web.assets import ARTICLE_JS, COPY_JS, CSS, DOCUMENTS_JS, SOURCES_JS, THEME

QUEUE_SIZE = 200
# Gradio keeps every session's copy of the page config (and its last outputs) until this many
# newer sessions push it out: 75-90 KB for an API client, more for a long chat. Its default
# of 10,000 let that grow by ~4.5 MB per 50 new users for 10,000 sessions (benchmarks/soak_app.py).
SESSION_CAPACITY = 1000
SEED_EXAMPLES = (
    "Wie viele Menschen sind im Donbass getötet worden?",
    "Wo finden die Gespräche der USA mit Russland statt?",
    "When is the NATO-Russia Council meeting?",
    "What did Biden offer Ukraine?",
)
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
            choices=article_choices(service.documents), value=[], multiselect=True,
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
    on_models = dict(concurrency_limit=PIPELINE_CONCURRENCY, concurrency_id="pipeline", **private)
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
    gr.api(service.api_ask, api_name="ask", concurrency_limit=PIPELINE_CONCURRENCY, concurrency_id="pipeline")


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


