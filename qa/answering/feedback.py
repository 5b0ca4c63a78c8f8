"""Users' verdicts on answers (right / wrong / the right answer), kept beside the index.

One JSON object per line in ``INDEX_DIR/feedback.jsonl``. Several processes and threads may
record at once: each entry is one ``write()`` of one whole line to a file opened with
``O_APPEND``, under an exclusive ``flock`` on that file (not the index's writer lock, which a
long ``qa add`` holds), so lines never interleave and none is lost. A line left half-written
by a crash is skipped with a warning when read, and the next entry starts on a line of its own.
``qa feedback export`` (qa/evaluation/feedback.py) turns the entries into a question set.
"""
from __future__ import annotations

import fcntl
import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from embeddings.errors import QAError
from qa.answering.question import MAX_QUESTION_CHARS, check_question

log = logging.getLogger(__name__)

FEEDBACK_FILE = "feedback.jsonl"
VERDICTS = ("right", "wrong")
TIERS = ("confident", "uncertain", "none")
MAX_ANSWER_CHARS = 1000        # the right answer a user types, or the answer that was shown
MAX_DOC_ID_CHARS = 255         # a file name
MAX_HISTORY = 50               # earlier questions of the conversation kept with an entry


def feedback_path(index_dir: Path) -> Path:
    """Where the feedback on answers from the index in ``index_dir`` is kept."""
    return Path(index_dir) / FEEDBACK_FILE


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Feedback:
    """One verdict on one answer. ``question`` is the question as asked (a follow-up such as
    "Und wann?" with the earlier questions in ``history``, oldest first); ``answer``,
    ``doc_id``, ``start``/``end`` (document offsets), ``tier`` and ``confidence`` describe the
    answer that was shown (``answer`` None: the system found none). ``correct_answer`` is what
    the user says is right instead (with verdict "wrong"). QAError for anything out of shape."""

    question: str
    verdict: str  # "right" or "wrong"
    answer: str | None = None
    correct_answer: str | None = None
    doc_id: str | None = None
    start: int | None = None
    end: int | None = None
    history: tuple[str, ...] = ()
    tier: str | None = None
    confidence: float | None = None
    created_at: str = field(default_factory=_now)  # UTC, ISO 8601

    def __post_init__(self) -> None:
        set_ = object.__setattr__   # normalised values on a frozen instance
        try:
            set_(self, "question", check_question(self.question))
        except QAError as error:
            raise QAError(f"feedback: {error}") from None
        if self.verdict not in VERDICTS:
            raise QAError(f"feedback: verdict {self.verdict!r} is neither 'right' nor 'wrong'")
        set_(self, "answer", _optional_text(self.answer, "answer", MAX_ANSWER_CHARS))
        set_(self, "correct_answer", _optional_text(self.correct_answer, "correct_answer", MAX_ANSWER_CHARS))
        if self.correct_answer is not None and self.verdict != "wrong":
            raise QAError("feedback: a correct_answer goes with the verdict 'wrong'")
        set_(self, "doc_id", _optional_text(self.doc_id, "doc_id", MAX_DOC_ID_CHARS))
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise QAError(f"feedback: {name} must be a character offset (0 or more), got {value!r}")
        if (self.start is None) != (self.end is None):
            raise QAError("feedback: give both start and end (the answer's document offsets) or neither")
        if self.start is not None and self.start > self.end:
            raise QAError(f"feedback: start {self.start} is after end {self.end}")
        history = self.history
        if isinstance(history, str) or not isinstance(history, (list, tuple)):
            raise QAError("feedback: history must be a list of the earlier questions")
        if len(history) > MAX_HISTORY:
            history = history[-MAX_HISTORY:]   # only the last turns can matter to a follow-up
        if not all(isinstance(h, str) and len(h) <= MAX_QUESTION_CHARS for h in history):
            raise QAError(f"feedback: history must hold questions as text of at most {MAX_QUESTION_CHARS} characters")
        set_(self, "history", tuple(history))
        if self.tier is not None and self.tier not in TIERS:
            raise QAError(f"feedback: tier {self.tier!r} is none of {', '.join(TIERS)}")
        if self.confidence is not None:
            if isinstance(self.confidence, bool) or not isinstance(self.confidence, (int, float)) \
                    or not math.isfinite(self.confidence) or not 0.0 <= self.confidence <= 1.0:
                raise QAError(f"feedback: confidence must be a number from 0 to 1, got {self.confidence!r}")
            set_(self, "confidence", float(self.confidence))
        if not isinstance(self.created_at, str) or not self.created_at:
            raise QAError("feedback: created_at must be an ISO 8601 time")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["history"] = list(self.history)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Feedback":
        """An entry as :meth:`to_json` wrote it (unknown keys, from a later version, are ignored)."""
        if not isinstance(data, Mapping):
            raise QAError(f"feedback: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("question", "verdict"):
            if name not in values:
                raise QAError(f"feedback: missing {name!r}")
        return cls(**values)


def _optional_text(value: object, name: str, limit: int) -> str | None:
    """``value`` with its white space normalised, None for None or nothing but white space."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise QAError(f"feedback: {name} must be text, got {type(value).__name__}")
    text = " ".join(value.split())
    if len(text) > limit:
        raise QAError(f"feedback: {name} has {len(text)} characters; at most {limit}")
    return text or None


class FeedbackLog:
    """The feedback file: :meth:`record` appends, :meth:`entries` reads back."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def record(self, feedback: Feedback) -> None:
        """Append ``feedback`` as one line; safe beside other processes and threads doing the same."""
        line = json.dumps(feedback.to_json(), ensure_ascii=False, allow_nan=False) + "\n"
        data = line.encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as error:
            raise QAError(f"cannot record feedback in {self.path} ({error.strerror or error}); "
                          "the index folder must be writable") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data   # a writer died mid-line: ours starts a line of its own
            written = os.write(fd, data)
            while written < len(data):   # a regular file takes it whole; a full disk may not
                more = os.write(fd, data[written:])
                if more == 0:
                    raise OSError("no space left to write the entry")
                written += more
            os.fsync(fd)
        except OSError as error:
            raise QAError(f"cannot record feedback in {self.path} ({error.strerror or error}); "
                          "check the disk and the folder's permissions") from None
        finally:
            os.close(fd)   # releases the lock

    def entries(self) -> list[Feedback]:
        """Every entry in the order recorded; malformed lines are skipped with one warning each.
        No file yet: no entries."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return []
        except OSError as error:
            raise QAError(f"cannot read feedback from {self.path} ({error.strerror or error})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)   # no entry half-written while it is read
            with os.fdopen(os.dup(fd), "rb") as handle:
                raw = handle.read()
        finally:
            os.close(fd)
        entries = []
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                entries.append(Feedback.from_json(json.loads(line.decode("utf-8"))))
            except (ValueError, TypeError, RecursionError, QAError) as error:   # ValueError: bad UTF-8 or JSON
                reason = error if isinstance(error, QAError) else type(error).__name__
                log.warning("%s:%d: skipping a malformed feedback line (%s)", self.path, number, reason)
        return entries


__all__ = ["FEEDBACK_FILE", "Feedback", "FeedbackLog", "VERDICTS", "feedback_path"]
