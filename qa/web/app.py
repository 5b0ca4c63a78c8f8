"""The chat's handlers: a ChatService over one QASystem, the object every event of the page
(qa/web/page.py) calls. It asks, keeps a session's conversation (its Turns), opens sources and
articles, and hands an uploaded or pasted article to ``QASystem.add`` (the same path as
``qa add``). Everything it shows is rendered by qa/web/render.py, which escapes all article
and user text. Start-up is in qa/web/server.py.
"""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Mapping, Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home, offline machines

import gradio as gr  # noqa: E402

from embeddings import intake  # noqa: E402
from embeddings.documents import Document  # noqa: E402
from embeddings.errors import QAError  # noqa: E402
from embeddings.locking import writer_lock  # noqa: E402
from qa.answering.feedback import Feedback, FeedbackLog, feedback_path  # noqa: E402
from qa.answering.question import check_question  # noqa: E402
from qa.answering.present import MAX_ALTERNATIVES, AnswerView, present, response_json  # noqa: E402
from qa.system import QASystem  # noqa: E402
from qa.web import render  # noqa: E402
from qa.web.export import conversation_markdown  # noqa: E402
from qa.web.texts import DEFAULT_LANGUAGE, texts  # noqa: E402

log = logging.getLogger("qa.app")

# Uploads wait here (inside the index folder, so on the same disk) while they are added.
INCOMING = ".incoming"
SHOWN_QUESTION_CHARS = 300


@dataclass(frozen=True, slots=True)
class Added:
    """An article added from the browser: what it is now, what happened, and a note when it
    was saved under another name than asked (an article of that name existed)."""

    document: Document
    outcome: str          # "added", "updated" or "unchanged"
    passages: int
    note: str | None = None
    asked_name: str | None = None   # the name it was to have, when another was taken (note says so)


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
# Notified when a question's answer joins its chat: a later question of that chat waits for it
# (the system answers several questions at once, and a follow-up sent before the answer to its
# question came must still be resolved against that question).
_ANSWERED = threading.Condition(_TURNS_LOCK)


def chat_messages(turn_list: Sequence[Turn]) -> list[dict]:
    """The Chatbot's messages: one per turn, so message i is turn i."""
    return [{"role": t.role, "content": t.content} for t in turn_list]


def _history_before(turn_list: Sequence[Turn], position: int) -> tuple[str, ...]:
    """The questions answered before message ``position`` (what a follow-up resolved against)."""
    return tuple(t.question for t in turn_list[:position] if t.role == "assistant" and t.view is not None)


def _next_question(turn_list: Sequence[Turn]) -> tuple[Turn | None, list[str], bool]:
    """The oldest question without an answer that no one is answering yet, the questions
    answered before it (the history a follow-up is resolved against), and whether an earlier
    question of the chat is still being answered (then the history is not complete yet)."""
    history: list[str] = []
    earlier_running = False
    for position, turn in enumerate(turn_list):
        if turn.role != "user":
            continue
        reply = turn_list[position + 1] if position + 1 < len(turn_list) else None
        if reply is None or reply.role == "user":
            if id(turn) in _ANSWERING:
                earlier_running = True
                continue
            return turn, history, earlier_running
        if reply.view is not None:
            history.append(turn.question)
    return None, history, earlier_running


class ChatService:
    """The chat's handlers over one QASystem (which holds the lock and the models)."""

    def __init__(self, system: QASystem, *, feedback_log: FeedbackLog | None = None) -> None:
        # where right/wrong votes go (qa.answering.feedback.FeedbackLog); None: the index folder's
        self._feedback_log = feedback_log
        self._exports: Path | None = None  # a temporary folder: one exported conversation per session
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
                    title: object = "", text: object = "", url: object = "", replace: bool = False) -> "Added":
        """Add an uploaded file or a pasted article (title + text, and the link to the original
        if given) through ``QASystem.add``; searchable as soon as this returns. An article of
        the same name is updated only with ``replace``; otherwise this one is saved under a
        free name (``Added.note`` says which). QAError with the reason for anything refused."""
        if not self.can_add:
            raise QAError("this app cannot add articles (its system has no index)")
        pasted = any(isinstance(v, str) and v.strip() for v in (title, text))
        if file is not None and pasted:
            raise QAError("Choose a file or paste a text, not both; clear one of them.", key="add_both")
        if file is None and not pasted:
            raise QAError("Choose a file to upload, or paste an article with its title.", key="add_nothing")
        if file is not None and isinstance(url, str) and url.strip():
            raise QAError("The link goes with a pasted article; a file gives its own in a first line "
                          "\"URL: https://…\". Clear the link field, or paste the article.",
                          key="link_with_file")
        if file is not None:
            name = intake.check_upload(Path(file), original_name=original_name)
            content = Path(file).read_bytes()
        else:
            name, text_content = intake.pasted_article(title, text, url)
            content = text_content.encode("utf-8")
        settings = self.settings
        # The name is chosen and the article added under the writer lock, so two uploads of
        # one name at once cannot both take it.
        with writer_lock(settings.index_dir):
            asked = name
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
        added = Added(document, report.outcome(name), self.system.passage_count(name), note,
                      asked if note else None)
        log.info("%s article %s (%s) from the browser in %.1f s", added.outcome, name, document.title,
                 report.seconds)
        return added

    @property
    def default_threshold(self) -> float:
        """The system's own "not in the articles" threshold (the settings slider starts there)."""
        return self.system.default_threshold

    # --- the chat's event handlers (Gradio passes component values; they return updates) ----

    @staticmethod
    def show_question(text: object, turn_list: list | None, sent: float | None = None, lang: str | None = None):
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
                return "", gr.skip(), gr.skip(), gr.HTML(render.hint_html(render.error_text(error, lang=lang)),
                                                         visible=True)
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
            return "", chat_messages(turn_list), turn_list, gr.HTML("", visible=False)

    @classmethod
    def show_typed_question(cls, text: object, turn_list: list | None, sent: float | None = None,
                            lang: str | None = None):
        """:meth:`show_question` for the box: the page has emptied it already (ASK_JS), so the
        server does not, and cannot wipe a question typed meanwhile."""
        return cls.show_question(text, turn_list, sent, lang)[1:]

    def answer_turn(self, turn_list: list | None, k: float, top_n: float, threshold: float,
                    doc_ids: list[str] | None, current_view, lang: str | None = None):
        """Answer the oldest unanswered question of the chat, right under it; a user mistake
        or a bug becomes the answer's message. Nothing when no question waits (or the chat
        was cleared meanwhile)."""
        turn_list = [] if turn_list is None else turn_list
        with _ANSWERED:
            asked, history, earlier_running = _next_question(turn_list)
            while earlier_running:  # its answer is part of this question's history
                _ANSWERED.wait(timeout=1.0)
                asked, history, earlier_running = _next_question(turn_list)
            if asked is None:
                return (gr.skip(),) * 5
            _ANSWERING.add(id(asked))
        try:
            return self._answer(turn_list, asked, history, k, top_n, threshold, doc_ids, current_view,
                                lang)
        finally:
            with _ANSWERED:
                _ANSWERING.discard(id(asked))
                _ANSWERED.notify_all()

    def _answer(self, turn_list, asked, history, k, top_n, threshold, doc_ids, current_view, lang):
        """Ask ``asked`` and put its answer right under it (if it is still in the chat)."""
        view = None
        try:
            view = self.ask(asked.question, history=history, k=k, top_n=top_n, threshold=threshold,
                            doc_ids=doc_ids or None)
            content = render.answer_markdown(view, lang=lang)
        except QAError as error:
            content = f"⚠️ {render.escape_markdown(render.error_text(error, lang=lang))}"
        except Exception:  # a bug, not a user mistake: log it, keep the page alive
            log.exception("answering %r failed", asked.question)
            content = f"⚠️ {texts(lang)['failed']}"
        with _TURNS_LOCK:
            position = next((i for i, turn in enumerate(turn_list) if turn is asked), None)
            if position is None:  # "New conversation" while this was answered
                return (gr.skip(),) * 5
            turn_list.insert(position + 1, Turn(question=asked.question, view=view, content=content))
            messages = chat_messages(turn_list)
        shown = view if view is not None else current_view
        return messages, turn_list, render.sources_html(shown, lang=lang), shown, gr.Tabs(selected="sources")

    @staticmethod
    def relabel(turn_list: list | None, lang: str | None):
        """The interface switched to ``lang``: every answer shown again in it (in place, so the
        next question keeps them); returns the chat's messages."""
        if turn_list is None:
            return []
        with _TURNS_LOCK:
            for position, turn in enumerate(turn_list):
                if turn.role == "assistant" and turn.view is not None:
                    turn_list[position] = replace(turn, content=render.answer_markdown(turn.view, lang=lang))
            return chat_messages(turn_list)

    @staticmethod
    def new_conversation(turn_list: list | None, lang: str | None = None):
        """"New conversation" and the chat's own trash icon: no messages, no turns (so no
        follow-up resolves against a hidden question, no click shows an old answer's sources,
        and an answer still running for the old chat is dropped), no sources, an empty box."""
        with _TURNS_LOCK:
            if turn_list is not None:
                turn_list.clear()
        return [], [] if turn_list is None else turn_list, render.sources_html(None, lang=lang), None, ""

    @staticmethod
    def select_message(turn_list: list, lang: str | None, evt: gr.SelectData):
        """Clicking a message shows the sources of that answer (or of the answer to it), its
        main source marked and scrolled to."""
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        turn_list = list(turn_list or [])
        for candidate in (index, index + 1):
            if 0 <= candidate < len(turn_list) and turn_list[candidate] is not None:
                view = turn_list[candidate].view
                if view is not None:  # its main source marked, so the page scrolls to it (a phone)
                    main = view.citation_for(view.answer).number if view.answer is not None else None
                    return (render.sources_html(view, lang=lang, active=main), view,
                            gr.Tabs(selected="sources"))
        return gr.skip(), gr.skip(), gr.skip()

    @staticmethod
    def open_message_citation(turn_list: list, lang: str | None, evt: gr.EventData):
        """A citation number ``[n]`` clicked (or Enter) in chat message ``evt.message``: that
        answer's sources, with card n marked and scrolled to (the page's script does that)."""
        try:
            index, number = int(getattr(evt, "message")), int(getattr(evt, "number"))
        except (AttributeError, TypeError, ValueError):
            return gr.skip(), gr.skip(), gr.skip()
        turn_list = list(turn_list or [])
        view = turn_list[index].view if 0 <= index < len(turn_list) else None
        if view is None or all(c.number != number for c in view.citations):
            return gr.skip(), gr.skip(), gr.skip()
        return render.sources_html(view, lang=lang, active=number), view, gr.Tabs(selected="sources")

    def open_citation(self, current_view, lang: str | None, evt: gr.EventData):
        """A click on a source card: the whole article, passage marked, answer highlighted."""
        if current_view is None:
            return gr.skip(), gr.skip()
        try:
            number = int(getattr(evt, "number"))
            body = render.citation_article_html(current_view, number, self.documents, lang=lang)
        except (QAError, AttributeError, TypeError, ValueError) as error:
            body = f"<div class='qa-note'>{render.escape_html(str(error))}</div>"
        return body, gr.Tabs(selected="article")

    def open_document(self, lang: str | None, evt: gr.EventData):
        """A click in the article list: that article, unmarked."""
        document = self.documents.get(str(getattr(evt, "doc_id", "")))
        if document is None:
            return gr.skip(), gr.skip()
        return render.article_html(document, lang=lang), gr.Tabs(selected="article")

    def add_from_form(self, file: object, title: object, text: object, replace: bool = False,
                      lang: str | None = None, url: object = ""):
        """The "Add an article" button: the confirmation or refusal, the refreshed header,
        article list, filter choices and tab label, the new article opened, cleared fields.
        Gradio's copy of the upload is deleted either way (it is in the corpus, or refused)."""
        path = None if not file else Path(file if isinstance(file, str) else getattr(file, "path", file))
        original = getattr(file, "orig_name", None) or (path.name if path is not None else None)
        try:
            added = self.add_article(file=path, original_name=original, title=title, text=text, url=url,
                                     replace=replace)
        except QAError as error:
            return (render.refused_html(render.error_text(error, lang=lang)),) + (gr.skip(),) * 10
        except Exception:  # a bug, not a user mistake: log it, keep the page alive
            log.exception("adding an article failed")
            return (render.refused_html(texts(lang)["add_failed"]),) + (gr.skip(),) * 10
        finally:
            _forget_upload(path)
        return (render.added_html(added.document, outcome=added.outcome, passages=added.passages,
                                  note=added.note, asked_name=added.asked_name, lang=lang or DEFAULT_LANGUAGE),
                *self.corpus_views(lang), render.article_html(added.document, lang=lang),
                gr.Tabs(selected="article"),
                None, "", "", "")

    def corpus_views(self, lang: str | None = None):
        """Header, article list, "Only these articles" choices and the list's tab label, as
        they are now (after an add, or when a page loads: with what other processes saved)."""
        self.system.refresh()
        documents = self.documents
        t = texts(lang)
        return (render.header_html(self.status(), lang=lang), render.article_list_html(documents, lang=lang),
                gr.Dropdown(choices=article_choices(documents)),
                gr.Tab(label=t["tab_documents"].format(count=len(documents))))

    # --- feedback and export ----------------------------------------------------------------

    def feedback_log(self) -> FeedbackLog:
        """The log right/wrong votes go to: the injected one, else feedback.jsonl beside the
        index (``qa feedback export`` turns it into a question set for ``qa eval``)."""
        if self._feedback_log is None:
            self._feedback_log = FeedbackLog(feedback_path(Path(self.settings.index_dir)))
        return self._feedback_log

    def record_vote(self, turn_list: list, lang: str | None, evt: gr.LikeData):
        """👍/👎 under an answer: stored as "right"/"wrong" with the question, the answer and its
        offsets, tier and confidence. After 👎 the box for the right answer opens. Returns the
        confirmation, the correction row's visibility and the voted message's index."""
        t = texts(lang)
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        turn_list = list(turn_list or [])
        turn = turn_list[index] if 0 <= index < len(turn_list) else None
        if turn is None or turn.view is None or evt.liked not in (True, False):
            return gr.skip(), gr.skip(), gr.skip()
        verdict = "right" if evt.liked else "wrong"
        try:
            self._record(turn, _history_before(turn_list, index), verdict=verdict)
        except QAError as error:
            return render.hint_html(str(error)), gr.Row(visible=False), None
        shown = turn.view.answer.text if turn.view.answer is not None else t["none"]
        message = t[f"feedback_{verdict}"].format(answer=" ".join(shown.split()))
        return render.notice_html(message), gr.Row(visible=verdict == "wrong"), index

    def record_correction(self, turn_list: list, index: int | None, correct: object, lang: str | None):
        """"Send the right answer" after 👎: stored as a "wrong" vote with the right answer."""
        t = texts(lang)
        turn_list = list(turn_list or [])
        turn = turn_list[index] if index is not None and 0 <= index < len(turn_list) else None
        text = " ".join(correct.split()) if isinstance(correct, str) else ""
        if turn is None or turn.view is None:
            return render.hint_html(t["feedback_pick"]), gr.skip(), gr.skip()
        if not text:
            return render.hint_html(t["correct_label"]), gr.skip(), gr.skip()
        try:
            self._record(turn, _history_before(turn_list, index), verdict="wrong", correct=text)
        except QAError as error:
            return render.hint_html(str(error)), gr.skip(), gr.skip()
        return render.notice_html(t["feedback_saved"].format(correct=text)), gr.Row(visible=False), ""

    def _record(self, turn: Turn, history: Sequence[str], *, verdict: str, correct: str | None = None) -> None:
        view, answer = turn.view, turn.view.answer
        self.feedback_log().record(Feedback(
            question=turn.question, verdict=verdict, answer=None if answer is None else answer.text,
            correct_answer=correct, doc_id=None if answer is None else answer.doc_id,
            start=None if answer is None else answer.start, end=None if answer is None else answer.end,
            history=tuple(history), tier=view.response.tier if answer is not None else "none",
            confidence=view.response.confidence))
        log.info("feedback %s on %r", verdict, turn.question)

    def export_conversation(self, turn_list: list, lang: str | None, request: gr.Request | None = None):
        """The download button with the conversation as a Markdown file with its citations
        (off while nothing was answered). One file per session, rewritten after each answer."""
        exchanges = [(t.question, t.view, t.content) for t in (turn_list or []) if t.role == "assistant"]
        if not exchanges:
            return gr.DownloadButton(value=None, interactive=False)
        if self._exports is None:
            self._exports = Path(tempfile.mkdtemp(prefix="qa-exports-"))
            atexit.register(shutil.rmtree, self._exports, True)  # gone with the server
        folder = self._export_folder(request)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "newsqa-conversation.md"
        path.write_text(conversation_markdown(exchanges, lang=lang, when=datetime.now()), encoding="utf-8")
        return gr.DownloadButton(value=str(path), interactive=True)

    def _export_folder(self, request: gr.Request | None) -> Path:
        session = "".join(c for c in str(getattr(request, "session_hash", "") or "") if c.isalnum()) or "local"
        return self._exports / session[:64]

    def forget_session(self, request: gr.Request | None = None) -> None:
        """A visitor closed the page: their exported conversation file is deleted (Gradio keeps
        its served copy until the cache is cleared, see page.CACHE_CLEANUP)."""
        if self._exports is not None:
            shutil.rmtree(self._export_folder(request), ignore_errors=True)

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


def article_choices(documents: Mapping[str, Document]) -> list[tuple[str, str]]:
    return [(doc.title or doc_id, doc_id) for doc_id, doc in documents.items()]
