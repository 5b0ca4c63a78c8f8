"""Users' feedback on answers (qa/answering/feedback.py) → a question set ``qa eval`` runs.

The set is the JSONL format of eval/README.md, one question per line:

- "right" on an answer: that answer is the gold, with its ``doc_id`` and document offsets
  (``answer_start``/``answer_end``).
- "right" on no answer (the system found none, or its tier was "none"): the user confirms the
  articles do not answer it, so ``answers`` is ``[]`` (an unanswerable question).
- "wrong" with the right answer typed in: that answer is the gold (its article is unknown).
- "wrong" without one: skipped and counted. It says only what the answer is not; it does not
  say the articles hold no answer, and a question set needs one or the other.

A follow-up is exported resolved against its history ("Und wann?" → "Wann ...?"), because
``qa eval`` asks each question on its own; the question as asked, the history, the answer that
was shown, its tier and confidence stay under ``feedback``. Several entries on one question
(resolved text, case and spacing aside): the latest wins. Ids are ``fb-`` and a hash of that
question, so they stay the same as feedback grows and ``qa eval-compare`` can pair two runs.
``verdict`` is a field of its own, so ``qa eval`` breaks its figures down by it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from embeddings.atomic import atomic_file
from embeddings.errors import QAError
from qa.answering.feedback import Feedback
from qa.answering.question import detect_language, resolve_followup


@dataclass(frozen=True, slots=True)
class FeedbackExport:
    """The questions made of a feedback file, and what was left out and why."""

    questions: tuple[dict[str, Any], ...]
    without_gold: int = 0   # "wrong" with no right answer given
    superseded: int = 0     # older entries on a question that a later entry decides

    @property
    def answerable(self) -> int:
        return sum(bool(q["answers"]) for q in self.questions)

    def summary(self) -> str:
        parts = [f"{len(self.questions)} questions ({self.answerable} answerable, "
                 f"{len(self.questions) - self.answerable} without an answer in the articles)"]
        if self.without_gold:
            parts.append(f"{self.without_gold} 'wrong' entries skipped: no right answer was given")
        if self.superseded:
            parts.append(f"{self.superseded} older entries on the same questions superseded")
        return "; ".join(parts)


def feedback_questions(entries: Sequence[Feedback]) -> FeedbackExport:
    """The question set made of ``entries`` (in the order recorded), as described above."""
    latest: dict[str, dict[str, Any]] = {}
    without_gold = superseded = 0
    for entry in entries:
        question = feedback_question(entry)
        if question is None:
            without_gold += 1
            continue
        if question["id"] in latest:
            superseded += 1
            del latest[question["id"]]   # re-inserted: the set keeps the order of the last word
        latest[question["id"]] = question
    return FeedbackExport(questions=tuple(latest.values()), without_gold=without_gold, superseded=superseded)


def feedback_question(entry: Feedback) -> dict[str, Any] | None:
    """One question-set line for ``entry``; None when it names no gold ("wrong", no right answer)."""
    refused = entry.answer is None or entry.tier == "none"
    gold: dict[str, Any]
    if entry.verdict == "wrong":
        if entry.correct_answer is None:
            return None
        gold = {"answers": [entry.correct_answer]}
    elif refused:
        gold = {"answers": []}
    else:
        gold = {"answers": [entry.answer]}
        if entry.doc_id is not None:
            gold["doc_id"] = entry.doc_id
        if entry.start is not None:
            gold.update(answer_start=entry.start, answer_end=entry.end)
    text = resolve_followup(entry.question, list(entry.history))
    key = " ".join(text.casefold().split())
    return {
        "id": "fb-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12],
        "question": text,
        **gold,
        "lang": detect_language(text),
        "verdict": entry.verdict,
        "feedback": {"asked": entry.question, "history": list(entry.history), "answer": entry.answer,
                     "tier": entry.tier, "confidence": entry.confidence, "created_at": entry.created_at},
    }


def write_question_set(export: FeedbackExport, out: Path) -> None:
    """Write the questions to ``out`` (a .jsonl file) in one rename: never half a file."""
    out = Path(out)
    if out.suffix.lower() != ".jsonl":
        raise QAError(f"--out {out}: give a .jsonl file name (qa eval reads a question set by its suffix)")
    if out.is_dir():
        raise QAError(f"--out {out}: a folder; give a .jsonl file name")
    if not export.questions:
        raise QAError("no feedback names a gold answer yet, so there is no question to export "
                      f"({export.summary()})")
    with atomic_file(out) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            for question in export.questions:
                handle.write(json.dumps(question, ensure_ascii=False) + "\n")
