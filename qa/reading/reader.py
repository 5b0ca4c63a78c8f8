"""Extractive reading: question + retrieved passages in, cited answer spans out.

One implementation on ``transformers``: any ``AutoModelForQuestionAnswering`` with a fast
tokenizer (for ``offset_mapping``), the built-in offline e5-small-qa-de model included.
Every answer points at document characters: ``doc.text[a.start:a.end] == a.text``.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Literal, Protocol, Sequence, runtime_checkable

import numpy as np

from embeddings.errors import QAError
from qa.types import Answer, Hit

log = logging.getLogger(__name__)

ReadMode = Literal["joint", "separate"]

# Chunks joined for joint reading are separated by a paragraph break: the tokenizer sees it as
# whitespace, and no answer may cross it (spans are kept inside one chunk).
JOINT_SEPARATOR = "\n\n"
# Questions longer than this many tokens are cut so a window always keeps room for context.
MAX_QUESTION_TOKENS = 64
# Windows at least this wide may share a forward pass with other questions' windows
# (TransformersReader._forward says why narrower ones do not).
MIN_SHARED_WIDTH = 32
# How answers of several passages are ranked by default, chosen by experiments/reader_prior.py on
# XQuAD articles 0-39 end to end (k=3): reading each passage on its own, ranking spans by their
# margin over their own window's no-answer logit, plus 40 logits per unit of dense cosine below
# the best hit (e5 cosines bunch at 0.7-0.9, so a passage 0.05 behind loses 2 logits). Joint
# reading with one plain softmax let distractor passages win: mean F1 68.7 -> 81.1 there.
DEFAULT_MODE: "ReadMode" = "separate"
DEFAULT_PASSAGE_PRIOR = 40.0
DEFAULT_NULL_WEIGHT = 1.0

_LEADING_JUNK = " \t\r\n\u00a0,;:.!?)]}›“”\"'’–—/"
_TRAILING_JUNK = " \t\r\n\u00a0,;:!?([{‹„\"'‚‘-–—/"
_PAIRS = (("(", ")"), ("[", "]"), ("„", "“"), ("«", "»"), ("»", "«"), ("‚", "‘"), ("“", "”"))


@dataclass(frozen=True, slots=True)
class ReaderEvidence:
    """What one reading produced: the answers plus the raw scores abstention needs.

    ``answers[i].score`` is the softmax probability of that span among *all* candidate spans of
    the question (every window of every passage), so it is comparable across passages; the
    softmax is over the reader's ranking logits (raw logit plus its no-answer margin and
    retrieval prior terms, see ``TransformersReader``), which also order the answers.
    ``span_logits[i]`` is the same span's raw start+end logit sum, and ``best_span_logit`` the
    raw logit of the top-ranked span (the largest raw logit only when ranking adds nothing, so
    ``span_logits`` need not be sorted). ``null_logit`` is the lowest
    start+end logit of the no-answer position ([CLS]) over all windows: models trained
    SQuAD2-style, and e5-small-qa-de (whose training windows without the answer point at
    [CLS]), use it to say "the answer is not in this window". ``null_probability`` puts that
    no-answer candidate into the same softmax as the spans.
    """

    answers: tuple[Answer, ...]
    span_logits: tuple[float, ...]
    null_logits: tuple[float, ...]     # no-answer logit of the window each answer came from
    best_span_logit: float | None      # None when no candidate span exists
    null_logit: float | None           # None when nothing was read
    null_probability: float            # 1.0 when no candidate span exists
    candidates: int                    # spans in the softmax
    windows: int                       # model windows run

    @property
    def no_answer_margin(self) -> float | None:
        """Best span logit minus the no-answer logit: large and positive means a confident span."""
        if self.best_span_logit is None or self.null_logit is None:
            return None
        return self.best_span_logit - self.null_logit


def ranking_option_problem(*, mode: str, passage_prior: float, null_weight: float) -> str | None:
    """What is wrong with these ``TransformersReader`` options, or None when they are fine."""
    if mode not in ("joint", "separate"):
        return f"mode must be 'joint' or 'separate', not {mode!r}"
    for label, value in (("passage_prior", passage_prior), ("null_weight", null_weight)):
        if not (math.isfinite(value) and value >= 0):
            return f"{label} must be a finite number >= 0, not {value!r}"
    return None


@runtime_checkable
class Reader(Protocol):
    """The seam between retrieval and answers; ``TransformersReader`` and test fakes implement it."""

    name: str

    def read(self, question: str, hits: Sequence[Hit], *, top_n: int = 3,
             max_answer_tokens: int = 30) -> list[Answer]: ...

    def read_with_evidence(self, question: str, hits: Sequence[Hit], *, top_n: int = 3,
                           max_answer_tokens: int = 30) -> ReaderEvidence: ...


@dataclass(frozen=True, slots=True)
class _Segment:
    """One hit's chunk text inside a context: context chars [start, end) are chunk chars [0, end-start).

    ``sentences``: the chunk's sentence bounds in chunk offsets; an answer stays inside one."""

    hit_index: int
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class _Context:
    text: str
    segments: tuple[_Segment, ...]


@dataclass(slots=True)
class _Candidate:
    hit_index: int
    chunk_start: int      # offsets into the hit's chunk text
    chunk_end: int
    logit: float
    null_logit: float


class TransformersReader:
    """An extractive QA model and its fast tokenizer, reading passages in batched windows.

    ``mode="joint"`` reads the hits' chunks joined into one context (the model sees the
    neighbouring passages); ``mode="separate"`` reads each chunk on its own. Either way all
    candidate spans of a question share one softmax, so scores compare across windows and
    passages. A span's ranking logit is its start+end logit sum, minus ``null_weight`` x the
    no-answer logit of its own window (a margin: "answer here" against "no answer in this
    window"), plus ``passage_prior`` x (its hit's dense cosine - the best hit's), a retrieval
    prior (``Hit.score`` stands in when a hit has no dense score). ``passage_prior=0``,
    ``null_weight=0`` and ``mode="joint"`` is the original reader. ``whole_words`` widens spans
    to whole words. ``span_rules`` keeps every answer inside one sentence and cuts a listed pair
    of names to the first for a question that asks for one (``asks_for_one_name``); False
    reads as before those rules (experiments/answer_spans.py measures the difference).
    """

    def __init__(self, model, tokenizer, *, name: str, max_length: int = 384, stride: int = 128,
                 batch_size: int = 8, n_best: int = 20, mode: ReadMode = DEFAULT_MODE,
                 whole_words: bool = True, passage_prior: float = DEFAULT_PASSAGE_PRIOR,
                 null_weight: float = DEFAULT_NULL_WEIGHT, span_rules: bool = True) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise QAError(
                f"reader {name!r}: its tokenizer ({type(tokenizer).__name__}) is not a fast "
                "tokenizer, so answer offsets cannot be mapped to characters; use a model folder "
                "with a tokenizer.json"
            )
        problem = ranking_option_problem(mode=mode, passage_prior=passage_prior, null_weight=null_weight)
        if problem is not None:
            raise ValueError(problem)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        model_limit = getattr(tokenizer, "model_max_length", max_length) or max_length
        self.max_length = int(min(max_length, model_limit))
        self.stride = min(stride, self.max_length // 2)  # the overlap must leave room to advance
        self.batch_size = batch_size
        self.n_best = n_best
        self.mode: ReadMode = mode
        self.whole_words = whole_words
        self.passage_prior = float(passage_prior)
        self.null_weight = float(null_weight)
        self.span_rules = span_rules

    def __repr__(self) -> str:
        return (f"TransformersReader(name={self.name!r}, mode={self.mode!r}, max_length={self.max_length}, "
                f"passage_prior={self.passage_prior:g}, null_weight={self.null_weight:g})")

    def read(self, question: str, hits: Sequence[Hit], *, top_n: int = 3,
             max_answer_tokens: int = 30) -> list[Answer]:
        """The ``top_n`` best distinct answers over all ``hits``, best first ([] if none)."""
        return list(self.read_with_evidence(
            question, hits, top_n=top_n, max_answer_tokens=max_answer_tokens).answers)

    def read_with_evidence(self, question: str, hits: Sequence[Hit], *, top_n: int = 3,
                           max_answer_tokens: int = 30) -> ReaderEvidence:
        """Like ``read``, plus the raw span and no-answer scores (see ``ReaderEvidence``)."""
        return self.read_many([question], [hits], top_n=[top_n], max_answer_tokens=max_answer_tokens)[0]

    def read_many(self, questions: Sequence[str], hits: Sequence[Sequence[Hit]], *,
                  top_n: Sequence[int], max_answer_tokens: int = 30) -> list[ReaderEvidence]:
        """``read_with_evidence`` for several questions (question i over ``hits[i]``, at most
        ``top_n[i]`` answers), their windows read together in as few forward passes as give
        exactly the same evidence as reading each question alone (see ``_forward``)."""
        results: list[ReaderEvidence | None] = [None] * len(questions)
        jobs = []
        for i, (question, question_hits, wanted) in enumerate(zip(questions, hits, top_n, strict=True)):
            question, question_hits = question.strip(), list(question_hits)
            if not question or not question_hits or wanted < 1:
                results[i] = ReaderEvidence((), (), (), None, None, 1.0, 0, 0)
                continue
            contexts = self._contexts(question_hits)
            jobs.append((i, question, question_hits, contexts,
                         self._encode(self._cut_question(question), contexts)))
        logits = self._forward([encoding for *_, encoding in jobs])
        for (i, question, question_hits, contexts, encoding), (starts, ends) in zip(jobs, logits):
            candidates, null_logit, windows = self._candidates(
                encoding, contexts, starts, ends, max_answer_tokens)
            results[i] = self._evidence(question_hits, candidates, null_logit, windows, top_n=top_n[i],
                                        offsets=self._ranking_offsets(question_hits, candidates),
                                        one_name=self.span_rules and asks_for_one_name(question))
        return results

    def _ranking_offsets(self, hits: list[Hit], candidates: list[_Candidate]) -> np.ndarray | None:
        """What ranking adds to each candidate's raw logit; None (nothing) for the original reader."""
        if not candidates or (self.passage_prior == 0 and self.null_weight == 0):
            return None
        offsets = -self.null_weight * np.array([c.null_logit for c in candidates], dtype=np.float64)
        if self.passage_prior:
            # One scale for all hits: cosines when every hit has one, else the retriever's scores.
            use_dense = all(h.dense_score is not None for h in hits)
            scores = np.array([h.dense_score if use_dense else h.score for h in hits], dtype=np.float64)
            prior = self.passage_prior * (scores - scores.max())
            offsets += prior[[c.hit_index for c in candidates]]
        return offsets

    def _evidence(self, hits: list[Hit], candidates: list[_Candidate], null_logit: float | None,
                  windows: int, *, top_n: int, offsets: np.ndarray | None = None,
                  one_name: bool = False) -> ReaderEvidence:
        """Rank ``candidates`` by logit + ``offsets`` (one per candidate; None = all 0) into answers.

        The offsets only rank and score the answers: ``span_logits``, ``best_span_logit`` (the
        raw logit of the top-ranked span) and ``null_probability`` stay raw model logits.
        ``one_name``: the question asks for one person or thing, so a span listing two names
        ("Olaf Scholz und Emmanuel Macron") is cut to its first.
        """
        if not candidates:
            return ReaderEvidence((), (), (), None, null_logit, 1.0, 0, windows)
        logits = np.array([c.logit for c in candidates], dtype=np.float64)
        ranked = logits if offsets is None else logits + offsets
        span_norm = _logsumexp(ranked)
        null_probability = 0.0 if null_logit is None else math.exp(
            null_logit - _logsumexp(np.append(logits, null_logit)))

        answers: list[Answer] = []
        kept_logits: list[float] = []
        kept_nulls: list[float] = []
        seen_spans: set[tuple[str, int, int]] = set()
        seen_texts: set[str] = set()
        order = np.argsort(-ranked, kind="stable")
        # An alternative that overlaps a better answer in the same document ("Witkoff" vs
        # "US-Sondergesandte Steve Witkoff") is the same answer with a different border, not an
        # alternative: keep only spans that overlap no better one.
        for index in order:
            cand = candidates[int(index)]
            answer = self._to_answer(cand, hits[cand.hit_index], math.exp(ranked[index] - span_norm),
                                     one_name=one_name)
            if answer is None:
                continue
            key = (answer.doc_id, answer.start, answer.end)
            norm = normalize_answer_text(answer.text)
            if key in seen_spans or norm in seen_texts or any(
                    kept.doc_id == answer.doc_id and kept.start < answer.end and answer.start < kept.end
                    for kept in answers):
                continue
            seen_spans.add(key)
            seen_texts.add(norm)
            answers.append(answer)
            kept_logits.append(cand.logit)
            kept_nulls.append(cand.null_logit)
            if len(answers) == top_n:
                break
        return ReaderEvidence(
            answers=tuple(answers),
            span_logits=tuple(kept_logits),
            null_logits=tuple(kept_nulls),
            best_span_logit=float(logits[order[0]]),
            null_logit=null_logit,
            null_probability=null_probability,
            candidates=len(candidates),
            windows=windows,
        )

    # -- contexts -------------------------------------------------------------------------

    def _contexts(self, hits: list[Hit]) -> list[_Context]:
        if self.mode == "separate":
            return [_Context(h.chunk.text, (_Segment(i, 0, len(h.chunk.text), _chunk_sentences(h)),))
                    for i, h in enumerate(hits)]
        parts: list[str] = []
        segments: list[_Segment] = []
        position = 0
        for i, hit in enumerate(hits):
            if parts:
                parts.append(JOINT_SEPARATOR)
                position += len(JOINT_SEPARATOR)
            parts.append(hit.chunk.text)
            segments.append(_Segment(i, position, position + len(hit.chunk.text), _chunk_sentences(hit)))
            position += len(hit.chunk.text)
        return [_Context("".join(parts), tuple(segments))]

    def _cut_question(self, question: str) -> str:
        encoding = self.tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoding["offset_mapping"]
        if len(offsets) <= MAX_QUESTION_TOKENS:
            return question
        log.warning("question is %d tokens long; reading only its first %d",
                    len(offsets), MAX_QUESTION_TOKENS)
        return question[: offsets[MAX_QUESTION_TOKENS - 1][1]]

    # -- model ----------------------------------------------------------------------------

    def _score_contexts(self, question: str, contexts: list[_Context], max_answer_tokens: int
                        ) -> tuple[list[_Candidate], float | None, int]:
        """One question's candidate spans over ``contexts`` read alone (see ``_candidates``)."""
        encoding = self._encode(question, contexts)
        [(starts, ends)] = self._forward([encoding])
        return self._candidates(encoding, contexts, starts, ends, max_answer_tokens)

    def _encode(self, question: str, contexts: list[_Context]):
        """The question paired with each context, cut into overlapping windows (unpadded)."""
        return self.tokenizer(
            [question] * len(contexts),
            [c.text for c in contexts],
            truncation="only_second",
            max_length=self.max_length,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )

    def _forward(self, encodings: list) -> list[tuple[dict[int, np.ndarray], dict[int, np.ndarray]]]:
        """Start and end logits of every window of every encoding (by window number).

        A window's logits depend on its own tokens and on the width it is padded to, not on
        the other rows of its forward pass (measured on e5-small-qa-de: bit-identical from 13
        tokens wide; padded further they move by ~1e-5, and rows of 5-11 tokens take another
        matrix kernel when they have company). So each window gets the width it has when its
        question is read alone (windows sorted by length, ``batch_size`` at a time, padded to
        the longest of those), and windows of any question that share a width of at least
        ``MIN_SHARED_WIDTH`` share forward passes: several questions read together give
        exactly the logits each gets alone.
        """
        import torch

        by_width: dict[object, list[tuple[int, int]]] = {}
        for e, encoding in enumerate(encodings):
            lengths = [len(ids) for ids in encoding["input_ids"]]
            # Shortest windows first, so each batch pads little.
            order = sorted(range(len(lengths)), key=lengths.__getitem__)
            for b in range(0, len(order), self.batch_size):
                batch = order[b: b + self.batch_size]
                width = max(lengths[w] for w in batch)
                group = width if width >= MIN_SHARED_WIDTH else (width, e, b)   # narrow: as alone
                by_width.setdefault(group, []).extend((e, w) for w in batch)
        logits = [({}, {}) for _ in encodings]
        if not encodings:
            return logits
        model_keys = [k for k in ("input_ids", "attention_mask", "token_type_ids")
                      if k in encodings[0] and k in self._model_input_names()]
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        device = next(iter(self.model.parameters()), torch.empty(0)).device   # none: a runtime's model
        with torch.inference_mode():
            for group, rows in by_width.items():
                width = group if isinstance(group, int) else group[0]
                for b in range(0, len(rows), self.batch_size):
                    batch = rows[b: b + self.batch_size]
                    tensors = {}
                    for key in model_keys:
                        fill = pad_id if key == "input_ids" else 0
                        values = [list(encodings[e][key][w]) for e, w in batch]
                        tensors[key] = torch.tensor([v + [fill] * (width - len(v)) for v in values],
                                                    dtype=torch.long, device=device)
                    output = self.model(**tensors)
                    starts = output.start_logits.float().cpu().numpy()
                    ends = output.end_logits.float().cpu().numpy()
                    for row, (e, w) in enumerate(batch):
                        length = len(encodings[e]["input_ids"][w])
                        logits[e][0][w] = starts[row, :length]
                        logits[e][1][w] = ends[row, :length]
        return logits

    def _candidates(self, encoding, contexts: list[_Context], start_logits: dict[int, np.ndarray],
                    end_logits: dict[int, np.ndarray], max_answer_tokens: int
                    ) -> tuple[list[_Candidate], float | None, int]:
        """The candidate spans of one question's windows, its lowest no-answer logit, and how
        many windows it had."""
        n_windows = len(encoding["input_ids"])
        candidates: list[_Candidate] = []
        null_logit: float | None = None
        cls_id = self.tokenizer.cls_token_id
        for w in range(n_windows):
            context = contexts[encoding["overflow_to_sample_mapping"][w]]
            seq_ids = encoding.sequence_ids(w)
            ids = encoding["input_ids"][w]
            offsets = encoding["offset_mapping"][w]
            s_log, e_log = start_logits[w], end_logits[w]
            cls_index = ids.index(cls_id) if cls_id is not None and cls_id in ids else 0
            window_null = float(s_log[cls_index] + e_log[cls_index])
            null_logit = window_null if null_logit is None else min(null_logit, window_null)
            in_context = np.array([s == 1 and offsets[t][1] > offsets[t][0]
                                   for t, s in enumerate(seq_ids)])
            if not in_context.any():
                continue
            if self.whole_words:
                offsets = _word_offsets(encoding.encodings[w].word_ids, offsets, in_context)
            candidates.extend(self._window_spans(
                context, offsets, in_context, s_log, e_log, window_null, max_answer_tokens))
        return candidates, null_logit, n_windows

    def _window_spans(self, context: _Context, offsets, in_context: np.ndarray,
                      s_log: np.ndarray, e_log: np.ndarray, window_null: float,
                      max_answer_tokens: int) -> list[_Candidate]:
        masked_s = np.where(in_context, s_log, -np.inf)
        masked_e = np.where(in_context, e_log, -np.inf)
        n = min(self.n_best, int(in_context.sum()))
        top_starts = np.argsort(-masked_s, kind="stable")[:n]
        top_ends = np.argsort(-masked_e, kind="stable")[:n]
        spans: list[_Candidate] = []
        for s in top_starts:
            for e in top_ends:
                if e < s or e - s + 1 > max_answer_tokens:
                    continue
                char_start, char_end = offsets[s][0], offsets[e][1]
                segment = _segment_of(context, char_start, char_end)
                if segment is None:
                    continue  # crosses the boundary between two joined chunks
                if self.span_rules and _crosses_sentence(segment, _skip_space(context.text, char_start,
                                                                              char_end) - segment.start,
                                                         char_end - segment.start):
                    continue  # "leisten . Auch aus ...": an answer is a phrase of one sentence
                spans.append(_Candidate(
                    hit_index=segment.hit_index,
                    chunk_start=char_start - segment.start,
                    chunk_end=char_end - segment.start,
                    logit=float(s_log[s] + e_log[e]),
                    null_logit=window_null,
                ))
        return spans

    def _model_input_names(self) -> set[str]:
        names = set(getattr(self.tokenizer, "model_input_names", ()) or ())
        forward = getattr(self.model, "forward", None)
        try:
            import inspect
            params = set(inspect.signature(forward).parameters)
        except (TypeError, ValueError):
            return names or {"input_ids", "attention_mask"}
        return (names | {"input_ids", "attention_mask"}) & params

    # -- answers --------------------------------------------------------------------------

    def _to_answer(self, cand: _Candidate, hit: Hit, score: float, *, one_name: bool = False
                   ) -> Answer | None:
        chunk = hit.chunk
        start, end = trim_span(chunk.text, cand.chunk_start, cand.chunk_end)
        if one_name and end > start:
            start, end = trim_span(chunk.text, start, start + len(first_listed(chunk.text[start:end])))
        if end <= start:
            return None
        text = chunk.text[start:end]
        doc_start, doc_end = chunk.start + start, chunk.start + end
        sentence_start, sentence_end = _sentence_bounds(hit, doc_start, doc_end)
        sentence = chunk.text[sentence_start - chunk.start: sentence_end - chunk.start]
        return Answer(
            text=text,
            score=min(1.0, max(0.0, score)),
            doc_id=chunk.doc_id,
            title=hit.title,
            start=doc_start,
            end=doc_end,
            sentence=sentence,
            sentence_start=sentence_start,
            sentence_end=sentence_end,
            hit=hit,
            reader=self.name,
        )


def _word_offsets(word_ids, offsets, in_context: np.ndarray) -> list[tuple[int, int]]:
    """Each context token's offsets widened to its whole word (as transformers' QA pipeline
    does), so an answer never starts or ends inside a word: "Gen" becomes "Genf"."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t, word in enumerate(word_ids):
        if in_context[t] and word is not None:
            first.setdefault(word, offsets[t][0])
            last[word] = offsets[t][1]
    return [(first[word], last[word]) if in_context[t] and word is not None else tuple(offsets[t])
            for t, word in enumerate(word_ids)]


def _chunk_sentences(hit: Hit) -> tuple[tuple[int, int], ...]:
    """The hit's sentence bounds in chunk offsets (empty when the chunk has none)."""
    chunk = hit.chunk
    return tuple((s - chunk.start, e - chunk.start) for s, e in chunk.sentences
                 if chunk.start <= s < e <= chunk.end)


def _skip_space(text: str, start: int, end: int) -> int:
    """``start`` moved past leading whitespace: sentencepiece offsets ("▁Christian") often
    include the space before a word, which lies before the sentence the word starts."""
    while start < end and text[start].isspace():
        start += 1
    return start


def _crosses_sentence(segment: _Segment, start: int, end: int) -> bool:
    """Whether chunk chars [start, end) reach into two sentences of ``segment``'s chunk: a
    sentence starts inside the span (not at its first character)."""
    return any(start < s < end for s, _ in segment.sentences)


def _segment_of(context: _Context, start: int, end: int) -> _Segment | None:
    for segment in context.segments:
        if segment.start <= start and end <= segment.end:
            return segment
    return None


def _sentence_bounds(hit: Hit, start: int, end: int) -> tuple[int, int]:
    """Document offsets of the sentence(s) holding [start, end); the whole chunk if unknown."""
    chunk = hit.chunk
    overlapping = [(s, e) for s, e in chunk.sentences
                   if s < end and start < e and chunk.start <= s and e <= chunk.end]
    if not overlapping:
        return chunk.start, chunk.end
    # Widen to the answer itself, in case the chunk's sentence list does not cover it.
    return min(start, *(s for s, _ in overlapping)), max(end, *(e for _, e in overlapping))


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + math.log(float(np.exp(values - top).sum()))


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``text[start:end]`` past whitespace and stray punctuation at its edges.

    Keeps a final "." that ends an abbreviation such as "U.S." or "z. B.", and brackets or
    quotes that are closed inside the span. Returns offsets into ``text`` (end may equal start).
    """
    changed = True
    while changed and start < end:
        changed = False
        while start < end and text[start] in _LEADING_JUNK:
            start += 1
            changed = True
        while start < end and text[end - 1] in _TRAILING_JUNK:
            end -= 1
            changed = True
        if start < end and text[end - 1] == "." and not _is_abbreviation(text[start:end]):
            end -= 1
            changed = True
        span = text[start:end]
        for opening, closing in _PAIRS:
            if span.endswith(closing) and opening not in span[:-1] and closing != opening:
                end -= 1
                changed = True
                break
            if span.startswith(opening) and closing not in span[1:]:
                start += 1
                changed = True
                break
    return start, max(start, end)


# "U.S.", "z. B.", "u.a.": two or more one-letter parts with dots end an abbreviation.
_ABBREVIATION = re.compile(r"(?:^|[^\w])(?:\w\.\s?){2,}$")


# "Wer ist der US-Sondergesandte?", "Who was the ...", "Wie heißt der ...": a copula in the
# singular and a definite singular predicate ask for one name. ("Wer" alone does not: German
# "wer" takes a singular verb whatever the number of people meant.)
_ONE_NAME_QUESTION = re.compile(
    r"^\s*(?:wer\s+(?:ist|war|wird|wäre)\s+(?:der|die|das)\b(?!.*\b(?:und|oder)\b)"
    r"|wie\s+heißt\s+(?:der|die|das)\b"
    r"|who\s+(?:is|was|will\s+be)\s+the\b(?!.*\b(?:and|or)\b))", re.IGNORECASE)
# A list of names: "A und B", "A, B und C", "A and B", each part starting with a capital.
_NAME_LIST = re.compile(r"^(?P<first>[^,]+?)(?:\s*,\s*|\s+(?:und|and|sowie)\s+)[A-ZÄÖÜ]")


def asks_for_one_name(question: str) -> bool:
    """Whether ``question`` asks for one person or thing ("Wer ist der US-Sondergesandte?")."""
    return bool(_ONE_NAME_QUESTION.match(question))


def first_listed(span: str) -> str:
    """The first name of a span that lists several ("Olaf Scholz und Emmanuel Macron" ->
    "Olaf Scholz"); the span itself otherwise. Only capitalised parts count as a list. Known
    limit: a name that is itself a pair ("Bosnien und Herzegowina") is cut too, which is why
    this applies only to questions that ask for one name."""
    match = _NAME_LIST.match(span)
    if match is None or not match["first"][:1].isupper():
        return span
    return match["first"]


def _is_abbreviation(span: str) -> bool:
    return bool(_ABBREVIATION.search(span))


def normalize_answer_text(text: str) -> str:
    """Case- and space-insensitive key for spotting the same answer read from two chunks."""
    return " ".join(text.casefold().split())


def quantize_model(model):
    """Dynamic int8 quantisation of the encoder's Linear layers (CPU inference only).

    The span head stays float: its two outputs are the answer scores themselves."""
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    names = {name: default_dynamic_qconfig for name, module in model.named_modules()
             if isinstance(module, torch.nn.Linear) and ".encoder." in f".{name}."}
    if not names:  # not a BERT-style layout: quantise every Linear layer
        names = {torch.nn.Linear}
    return quantize_dynamic(model, names, dtype=torch.qint8)
