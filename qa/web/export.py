"""A conversation as Markdown with its citations: for each question the answer, its tier and
confidence, and numbered sources (title, outlet, date, link) with the cited sentence quoted.
Text from articles and users is written as text: Markdown characters are escaped."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Sequence

from qa.answering.present import AnswerView
from qa.web.render import assessment_line, original_url, preview
from qa.web.texts import texts

# (question, its AnswerView or None when it failed, the message the chat showed instead)
Exchange = tuple[str, AnswerView | None, str]
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|<>~])")


def _text(value: str) -> str:
    """One line of literal text in Markdown."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def conversation_markdown(exchanges: Sequence[Exchange], *, lang: str | None = None,
                          when: datetime | None = None) -> str:
    """The whole conversation, oldest question first, in the interface's language ``lang``."""
    t = texts(lang)
    lines = [f"# {t['export_title']}", ""]
    if when is not None:
        lines += [f"*{t['export_exported'].format(when=when.strftime('%Y-%m-%d %H:%M'))}*", ""]
    for number, (question, view, shown) in enumerate(exchanges, start=1):
        lines += [f"## {number}. {_text(question)}", ""]
        if view is None:
            lines += [_text(re.sub(r"\\(.)", r"\1", shown)), ""]  # the chat's escaped message
            continue
        resolved = view.response.retrieval_query
        if resolved and " ".join(resolved.split()) != " ".join(view.question.split()):
            lines += [f"*{t['followup']}: {_text(resolved)}*", ""]
        if view.answer is None:
            lines.append(f"**{t['export_answer']}:** {t['no_answer']}")
        else:
            cited = view.citation_for(view.answer).number
            lines.append(f"**{t['export_answer']}:** {_text(view.answer.text)} \\[{cited}\\]")
        lines += ["", assessment_line(view, lang=lang), ""]
        if view.citations:
            lines += [f"{t['export_sources']}:", ""]
        for citation in view.citations:
            hit = citation.hit
            meta = hit.metadata or {}
            parts = [_text(hit.title or hit.chunk.doc_id)]
            parts += [_text(meta[key]) for key in ("outlet", "date") if meta.get(key)]
            url = original_url(meta)
            if url is not None:
                parts.append(f"<{url}>")
            lines.append(f"{citation.number}. {' · '.join(parts)}")
            lines.append(f"   > {_text(preview(view, citation.number))}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
