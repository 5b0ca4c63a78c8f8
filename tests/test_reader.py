"""TransformersReader on a tiny trained QA model: oracle agreement, offsets, scores, loading."""
from __future__ import annotations

import logging
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings.errors import QAError
from qa.reading.loading import load_reader
from qa.reading.reader import (Reader, ReaderEvidence, TransformersReader, normalize_answer_text,
                       trim_span)
from qa.types import Hit
from tests.fakes import (TINY_QA_FILLER, TINY_QA_QUESTION, FakeReader, build_tiny_qa_model,
                         tiny_qa_context)


@pytest.fixture(scope="session")
def tiny_qa_dir(tmp_path_factory):
    return build_tiny_qa_model(tmp_path_factory.mktemp("tiny-qa"))


@pytest.fixture(scope="session")
def tiny_model_and_tokenizer(tiny_qa_dir):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    return (AutoModelForQuestionAnswering.from_pretrained(tiny_qa_dir).eval(),
            AutoTokenizer.from_pretrained(tiny_qa_dir))


def make_reader(model_and_tokenizer, **kwargs) -> TransformersReader:
    model, tokenizer = model_and_tokenizer
    return TransformersReader(model, tokenizer, name="tiny-qa", **kwargs)


def hit_for(doc: Document, start: int, end: int, *, rank: int = 1, sentences=()) -> Hit:
    chunk = Chunk(doc.doc_id, start, end, doc.text[start:end], tuple(sentences))
    return Hit(chunk=chunk, score=0.9, rank=rank, title=doc.title)


def whole_doc_hit(doc: Document, **kwargs) -> Hit:
    return hit_for(doc, 0, len(doc.text), **kwargs)


def pipeline_answers(model, tokenizer, question, context, *, max_length, stride, max_answer_len):
    """What transformers' question-answering pipeline answers, best first.

    transformers 5 removed ``pipeline("question-answering")``; its decoding survives unchanged
    as ``select_starts_ends`` (now shared with document-question-answering). This reruns the
    removed pipeline's fast-tokenizer pre- and post-processing (transformers 4.x
    ``QuestionAnsweringPipeline``: one window at a time, softmax per window, spans widened to
    whole words through ``word_to_chars``) around that function.
    """
    import torch
    from transformers.pipelines.document_question_answering import select_starts_ends

    encoding = tokenizer(question, context, truncation="only_second", max_length=max_length,
                         stride=stride, return_overflowing_tokens=True,
                         return_offsets_mapping=True, return_token_type_ids=True)
    answers = []
    for w, enc in enumerate(encoding.encodings):
        p_mask = [seq != 1 for seq in enc.sequence_ids]
        p_mask[enc.ids.index(tokenizer.cls_token_id)] = False
        inputs = {k: torch.tensor([encoding[k][w]])
                  for k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.no_grad():
            output = model(**inputs)
        starts, ends, scores, _ = select_starts_ends(
            output.start_logits.numpy(), output.end_logits.numpy(), p_mask,
            inputs["attention_mask"].numpy(), top_k=1, max_answer_len=max_answer_len)
        for s, e, score in zip(starts, ends, scores):
            start_char = enc.word_to_chars(enc.token_to_word(s), sequence_index=1)[0]
            end_char = enc.word_to_chars(enc.token_to_word(e), sequence_index=1)[1]
            answers.append({"score": float(score), "start": start_char, "end": end_char,
                            "answer": context[start_char:end_char]})
    return sorted(answers, key=lambda a: a["score"], reverse=True)


# --- correctness oracle ----------------------------------------------------------------------

def test_top_answer_matches_transformers_pipeline_decoding(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    reader = make_reader(tiny_model_and_tokenizer, mode="separate", max_length=128, stride=32)
    rng = random.Random(7)
    for i in range(12):
        context, answer_start, answer = tiny_qa_context(rng, rng.randrange(3, 35))
        prefix = "Vorspann. "  # the chunk starts inside the document
        doc = Document(f"doc{i}", f"Titel {i}", prefix + context)
        ours = reader.read(TINY_QA_QUESTION, [hit_for(doc, len(prefix), len(doc.text))], top_n=1)
        theirs = pipeline_answers(model, tokenizer, TINY_QA_QUESTION, context,
                                  max_length=128, stride=32, max_answer_len=30)[0]
        assert ours[0].text == theirs["answer"] == answer
        assert ours[0].start - len(prefix) == theirs["start"] == answer_start
        assert ours[0].end - len(prefix) == theirs["end"]
        assert doc.text[ours[0].start:ours[0].end] == ours[0].text


def test_long_context_is_read_in_strided_windows(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    reader = make_reader(tiny_model_and_tokenizer, mode="separate", max_length=24, stride=8)
    rng = random.Random(3)
    for i in range(8):
        context, answer_start, answer = tiny_qa_context(rng, 45)
        doc = Document(f"long{i}", "", context)
        evidence = reader.read_with_evidence(TINY_QA_QUESTION, [whole_doc_hit(doc)], top_n=1)
        assert evidence.windows > 2
        theirs = pipeline_answers(model, tokenizer, TINY_QA_QUESTION, context,
                                  max_length=24, stride=8, max_answer_len=30)[0]
        top = evidence.answers[0]
        assert (top.text, top.start, top.end) == (answer, answer_start, answer_start + len(answer))
        assert (theirs["answer"], theirs["start"]) == (answer, answer_start)


# --- several passages --------------------------------------------------------------------------

def filler(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(TINY_QA_FILLER) for _ in range(n)) + "."


@pytest.mark.parametrize("mode", ["joint", "separate"])
def test_best_answer_comes_from_the_passage_that_holds_it(tiny_model_and_tokenizer, mode):
    reader = make_reader(tiny_model_and_tokenizer, mode=mode, max_length=64, stride=16)
    rng = random.Random(11)
    context, answer_start, answer = tiny_qa_context(rng, 10)
    docs = [Document("a", "A", filler(rng, 12) + " " + filler(rng, 9)),
            Document("b", "B", filler(rng, 5) + " " + context),
            Document("c", "C", filler(rng, 20))]
    hits = [whole_doc_hit(docs[0], rank=1), hit_for(docs[1], 0, len(docs[1].text), rank=2),
            whole_doc_hit(docs[2], rank=3)]
    answers = reader.read(TINY_QA_QUESTION, hits, top_n=3)
    assert answers[0].doc_id == "b" and answers[0].text == answer
    assert answers[0].hit is hits[1] and answers[0].title == "B"
    assert docs[1].text[answers[0].start:answers[0].end] == answer
    assert all(0.0 <= a.score <= 1.0 for a in answers)
    assert [a.score for a in answers] == sorted((a.score for a in answers), reverse=True)
    assert sum(a.score for a in answers) <= 1.0 + 1e-9
    assert all(a.reader == "tiny-qa" for a in answers)


def test_evidence_is_consistent_with_answers(tiny_model_and_tokenizer):
    reader = make_reader(tiny_model_and_tokenizer, max_length=64, stride=16)
    rng = random.Random(5)
    context, _, answer = tiny_qa_context(rng, 15)
    evidence = reader.read_with_evidence(
        TINY_QA_QUESTION, [whole_doc_hit(Document("d", "", context))], top_n=3)
    assert isinstance(evidence, ReaderEvidence)
    assert evidence.answers[0].text == answer
    assert len(evidence.span_logits) == len(evidence.answers) == len(evidence.null_logits)
    assert list(evidence.span_logits) == sorted(evidence.span_logits, reverse=True)
    assert evidence.best_span_logit == pytest.approx(evidence.span_logits[0])
    assert evidence.no_answer_margin == pytest.approx(evidence.best_span_logit - evidence.null_logit)
    assert 0.0 <= evidence.null_probability <= 1.0
    assert evidence.candidates >= len(evidence.answers) and evidence.windows == 1


def test_duplicate_passages_give_distinct_answers(tiny_model_and_tokenizer):
    reader = make_reader(tiny_model_and_tokenizer, mode="separate", max_length=64, stride=16)
    rng = random.Random(2)
    context, _, answer = tiny_qa_context(rng, 12)
    doc = Document("d", "", context)
    hits = [whole_doc_hit(doc, rank=1), whole_doc_hit(doc, rank=2)]
    answers = reader.read(TINY_QA_QUESTION, hits, top_n=5)
    assert answers[0].text == answer
    spans = [(a.doc_id, a.start, a.end) for a in answers]
    texts = [normalize_answer_text(a.text) for a in answers]
    assert len(set(spans)) == len(spans) and len(set(texts)) == len(texts)


def test_top_n_and_answer_length_are_respected(tiny_model_and_tokenizer):
    reader = make_reader(tiny_model_and_tokenizer, max_length=64, stride=16)
    rng = random.Random(9)
    doc = Document("d", "", tiny_qa_context(rng, 20)[0])
    assert len(reader.read(TINY_QA_QUESTION, [whole_doc_hit(doc)], top_n=2)) == 2
    one_token = reader.read(TINY_QA_QUESTION, [whole_doc_hit(doc)], top_n=5, max_answer_tokens=1)
    assert one_token and all(len(a.text.split()) == 1 for a in one_token)


def test_answer_sentence_comes_from_chunk_sentences(tiny_model_and_tokenizer):
    reader = make_reader(tiny_model_and_tokenizer, max_length=64, stride=16)
    rng = random.Random(4)
    first = filler(rng, 6)
    context, answer_start, answer = tiny_qa_context(rng, 6)
    text = first + " " + context + " " + filler(rng, 4)
    doc = Document("d", "", text)
    s2 = len(first) + 1
    sentences = ((0, len(first)), (s2, s2 + len(context)), (s2 + len(context) + 1, len(text)))
    answer_ = reader.read(TINY_QA_QUESTION, [hit_for(doc, 0, len(text), sentences=sentences)])[0]
    assert answer_.text == answer
    assert (answer_.sentence, answer_.sentence_start, answer_.sentence_end) == (
        context, s2, s2 + len(context))
    no_sentences = reader.read(TINY_QA_QUESTION, [whole_doc_hit(doc)])[0]
    assert (no_sentences.sentence_start, no_sentences.sentence_end) == (0, len(text))
    assert no_sentences.sentence == text


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    lead=st.text(alphabet=" .,;:\n»«„“()-", max_size=6),
    tail=st.text(alphabet=" .,;:\n»«„“()-", max_size=6),
    mode=st.sampled_from(["joint", "separate"]),
    cut=st.integers(0, 5),
)
def test_answer_offsets_point_at_the_document_text(tiny_model_and_tokenizer, seed, lead, tail, mode, cut):
    """The citation invariant, for chunks anywhere in a document and odd punctuation around."""
    reader = make_reader(tiny_model_and_tokenizer, mode=mode, max_length=40, stride=12)
    rng = random.Random(seed)
    parts = [lead + tiny_qa_context(rng, rng.randrange(1, 30))[0] + tail for _ in range(3)]
    text = "Kopf. " + " ".join(parts)
    doc = Document("d", "T", text)
    bounds, position = [], len("Kopf. ")
    for part in parts:
        bounds.append((position, position + len(part)))
        position += len(part) + 1
    hits = [hit_for(doc, max(0, s - cut), e, rank=r + 1, sentences=((s, e),))
            for r, (s, e) in enumerate(bounds)]
    for answer in reader.read(TINY_QA_QUESTION, hits, top_n=5):
        assert text[answer.start:answer.end] == answer.text
        assert answer.text and answer.text == answer.text.strip()
        assert answer.hit.chunk.start <= answer.start < answer.end <= answer.hit.chunk.end
        assert text[answer.sentence_start:answer.sentence_end] == answer.sentence
        assert answer.sentence_start <= answer.start and answer.end <= answer.sentence_end


def test_nothing_to_read_gives_no_answers(tiny_model_and_tokenizer):
    reader = make_reader(tiny_model_and_tokenizer)
    doc = Document("d", "", "Antwort: Genf.")
    assert reader.read(TINY_QA_QUESTION, []) == []
    assert reader.read("   ", [whole_doc_hit(doc)]) == []
    evidence = reader.read_with_evidence(TINY_QA_QUESTION, [])
    assert evidence.answers == () and evidence.null_probability == 1.0 and evidence.windows == 0


# --- ranking several passages: no-answer margin and retrieval prior ----------------------------

ORIGINAL = {"mode": "joint", "passage_prior": 0.0, "null_weight": 0.0}


def scored_hit(doc: Document, *, rank: int, dense: float | None, score: float = 0.9) -> Hit:
    chunk = Chunk(doc.doc_id, 0, len(doc.text), doc.text, ())
    return Hit(chunk=chunk, score=score, rank=rank, title=doc.title, dense_score=dense)


def three_passages(seed: int) -> list[Document]:
    rng = random.Random(seed)
    return [Document(f"p{i}", "", filler(rng, 4) + " " + tiny_qa_context(rng, rng.randrange(4, 14))[0])
            for i in range(3)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_prior_zero_is_the_original_single_softmax(tiny_model_and_tokenizer, seed):
    """With prior and null weight 0 the retrieval scores are ignored and answers rank by raw logit."""
    reader = make_reader(tiny_model_and_tokenizer, max_length=64, stride=16, **ORIGINAL)
    docs = three_passages(seed)
    hits = [scored_hit(d, rank=i + 1, dense=0.9 - 0.1 * i, score=1.0 - 0.3 * i) for i, d in enumerate(docs)]
    evidence = reader.read_with_evidence(TINY_QA_QUESTION, hits, top_n=3)
    candidates, _, _ = reader._score_contexts(TINY_QA_QUESTION, reader._contexts(hits), 30)
    logits = np.array([c.logit for c in candidates])
    assert reader._ranking_offsets(hits, candidates) is None
    assert evidence.best_span_logit == pytest.approx(logits.max())
    assert list(evidence.span_logits) == sorted(evidence.span_logits, reverse=True)
    norm = logits.max() + np.log(np.exp(logits - logits.max()).sum())
    for answer, logit in zip(evidence.answers, evidence.span_logits):
        assert answer.score == pytest.approx(np.exp(logit - norm))
    # The same reading with other retrieval scores gives the same answers and scores.
    flat = [scored_hit(d, rank=i + 1, dense=0.5) for i, d in enumerate(docs)]
    again = reader.read_with_evidence(TINY_QA_QUESTION, flat, top_n=3)
    assert [(a.doc_id, a.start, a.end, a.score) for a in again.answers] == \
        [(a.doc_id, a.start, a.end, a.score) for a in evidence.answers]


@pytest.mark.parametrize("dense", [True, False])
def test_prior_lets_the_better_retrieved_of_two_equal_spans_win(tiny_model_and_tokenizer, dense):
    """Two identical passages give equal span logits; the prior picks the better-retrieved one.

    The better hit comes second in the list, so without a prior the tie goes to the worse one.
    Without dense scores the retriever's ``Hit.score`` is the prior's scale."""
    rng = random.Random(8)
    context, answer_start, answer = tiny_qa_context(rng, 10)
    worse, better = Document("worse", "W", context), Document("better", "B", context)
    hits = [scored_hit(worse, rank=2, dense=0.80 if dense else None, score=0.5),
            scored_hit(better, rank=1, dense=0.85 if dense else None, score=0.7)]
    plain = make_reader(tiny_model_and_tokenizer, mode="separate", max_length=64, passage_prior=0.0)
    primed = make_reader(tiny_model_and_tokenizer, mode="separate", max_length=64, passage_prior=40.0)
    before = plain.read_with_evidence(TINY_QA_QUESTION, hits, top_n=1)
    after = primed.read_with_evidence(TINY_QA_QUESTION, hits, top_n=1)
    assert before.answers[0].doc_id == "worse" and after.answers[0].doc_id == "better"
    assert after.answers[0].text == before.answers[0].text == answer
    assert after.answers[0].start == answer_start and after.answers[0].hit is hits[1]
    # Abstention sees the raw logit of the chosen span, the same number as before.
    assert after.best_span_logit == pytest.approx(before.best_span_logit)
    assert after.span_logits[0] == pytest.approx(after.best_span_logit)
    assert after.null_logit == pytest.approx(before.null_logit)
    assert after.null_probability == pytest.approx(before.null_probability)
    # The prior moves the probability mass towards the better passage's copy of the span.
    assert after.answers[0].score > before.answers[0].score


def test_strong_prior_keeps_answers_in_the_better_retrieved_passage(tiny_model_and_tokenizer):
    rng = random.Random(12)
    context, _, answer = tiny_qa_context(rng, 8)
    docs = [Document("holds", "", context), Document("top", "", filler(rng, 6) + " Antwort: Bern.")]
    hits = [scored_hit(docs[0], rank=2, dense=0.70), scored_hit(docs[1], rank=1, dense=0.90)]
    strong = make_reader(tiny_model_and_tokenizer, mode="joint", max_length=96, passage_prior=1000.0,
                         null_weight=0.0)
    evidence = strong.read_with_evidence(TINY_QA_QUESTION, hits, top_n=5)
    docs_in_order = [a.doc_id for a in evidence.answers]
    assert docs_in_order[0] == "top" and evidence.answers[0].text == "Bern"
    assert docs_in_order == sorted(docs_in_order, key=lambda d: d != "top")  # every "top" span first
    assert evidence.best_span_logit == pytest.approx(evidence.span_logits[0])
    assert [a.score for a in evidence.answers] == sorted((a.score for a in evidence.answers), reverse=True)


@pytest.mark.parametrize("null_weight, passage_prior, winner", [
    (0.0, 0.0, "a"),     # raw logits: 10 > 8
    (1.0, 0.0, "b"),     # margins over the window's no-answer logit: 10 - 5 < 8 + 2
    (1.0, 40.0, "b"),    # b's passage 0.1 behind: 10 - 5 < 8 + 2 - 4
    (1.0, 100.0, "a"),   # ... and now 10 - 5 > 8 + 2 - 10
])
def test_ranking_logit_is_margin_plus_prior(tiny_model_and_tokenizer, null_weight, passage_prior, winner):
    """The ranking arithmetic on two hand-made candidates; evidence keeps the raw logits."""
    from qa.reading.reader import _Candidate

    reader = make_reader(tiny_model_and_tokenizer, mode="separate", null_weight=null_weight,
                         passage_prior=passage_prior)
    docs = [Document("a", "", "Antwort: Genf."), Document("b", "", "Antwort: Bern.")]
    hits = [scored_hit(docs[0], rank=1, dense=0.9), scored_hit(docs[1], rank=2, dense=0.8)]
    candidates = [_Candidate(0, 9, 13, logit=10.0, null_logit=5.0),
                  _Candidate(1, 9, 13, logit=8.0, null_logit=-2.0)]
    evidence = reader._evidence(hits, candidates, -2.0, 2, top_n=2,
                                offsets=reader._ranking_offsets(hits, candidates))
    raw = {"a": (10.0, 5.0), "b": (8.0, -2.0)}[winner]
    assert evidence.answers[0].doc_id == winner and evidence.answers[0].text in ("Genf", "Bern")
    assert (evidence.best_span_logit, evidence.null_logits[0]) == raw
    assert evidence.span_logits[0] == raw[0] and evidence.null_logit == -2.0
    assert evidence.answers[0].score > evidence.answers[1].score


@pytest.mark.parametrize("kwargs", [{"passage_prior": -1.0}, {"null_weight": float("nan")},
                                    {"passage_prior": float("inf")}])
def test_bad_ranking_weights_are_refused(tiny_model_and_tokenizer, kwargs):
    with pytest.raises(ValueError, match="must be a finite number"):
        make_reader(tiny_model_and_tokenizer, **kwargs)


# --- edges, construction, loading ------------------------------------------------------------

@pytest.mark.parametrize("span, expected", [
    (" Genf.", "Genf"), ("Genf, ", "Genf"), ("(Genf", "Genf"), ("Genf)", "Genf"),
    ("(Genf)", "(Genf)"), ("U.S.", "U.S."), ("z. B.", "z. B."), ("13 000.", "13 000"),
    ("„Nord Stream 2“", "„Nord Stream 2“"), ("Nord Stream 2“", "Nord Stream 2"), (" .,", ""),
])
def test_trim_span_strips_stray_edges(span, expected):
    start, end = trim_span(span, 0, len(span))
    assert span[start:end] == expected


def test_slow_tokenizer_is_refused(tiny_model_and_tokenizer):
    class SlowTokenizer:
        is_fast = False

    with pytest.raises(QAError, match="fast tokenizer"):
        TransformersReader(tiny_model_and_tokenizer[0], SlowTokenizer(), name="x")


def test_load_reader_from_a_local_folder(tiny_qa_dir, tmp_path):
    reader = load_reader(str(tiny_qa_dir), cache_dir=tmp_path, max_length=64, stride=16)
    assert reader.name == str(tiny_qa_dir)
    rng = random.Random(1)
    context, _, answer = tiny_qa_context(rng, 8)
    assert reader.read(TINY_QA_QUESTION, [whole_doc_hit(Document("d", "", context))])[0].text == answer


def test_unloadable_model_warns_once_and_falls_back(tmp_path, caplog, tiny_model_and_tokenizer):
    fallback = make_reader(tiny_model_and_tokenizer)
    with caplog.at_level(logging.WARNING, logger="qa.reading.reader"):
        reader = load_reader(str(tmp_path / "no-such-model"), cache_dir=tmp_path,
                             fallback=lambda: fallback)
    assert reader is fallback
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "no-such-model" in warnings[0].getMessage() and "tiny-qa" in warnings[0].getMessage()


def test_quantized_reader_still_extracts(tiny_qa_dir, tmp_path):
    reader = load_reader(str(tiny_qa_dir), cache_dir=tmp_path, quantize=True, max_length=64)
    rng = random.Random(6)
    context, _, answer = tiny_qa_context(rng, 10)
    assert reader.read(TINY_QA_QUESTION, [whole_doc_hit(Document("d", "", context))])[0].text == answer


def test_fake_reader_implements_the_reader_protocol():
    doc = Document("d", "T", "Die Gespräche finden in Genf statt.")
    fake = FakeReader(answer_for=lambda q: "Genf")
    assert isinstance(fake, Reader)
    answers = fake.read("Wo?", [whole_doc_hit(doc)])
    assert answers[0].text == "Genf" and doc.text[answers[0].start:answers[0].end] == "Genf"
    assert np.isclose(sum(a.score for a in answers), 1.0)


# --- spans that read as answers (issue 13) ---------------------------------------------------

def test_no_answer_crosses_a_sentence_boundary(tiny_model_and_tokenizer):
    """Hand-made logits that make the best span run from one sentence into the next: it is
    dropped, and the best span inside one sentence wins instead."""
    import numpy as np

    from qa.reading.reader import _Context, _Segment, _chunk_sentences

    reader = make_reader(tiny_model_and_tokenizer, mode="separate", whole_words=False)
    text = "Israel gegenüber leisten. Auch aus Berlin hieß es"
    second = text.index("Auch")
    doc = Document("d", "", text)
    hit = hit_for(doc, 0, len(text), sentences=((0, second - 1), (second, len(text))))
    words = [(m.start(), m.end()) for m in __import__("re").finditer(r"\S+", text)]
    context = _Context(text, (_Segment(0, 0, len(text), _chunk_sentences(hit)),))
    starts = np.full(len(words), -5.0)
    ends = np.full(len(words), -5.0)
    starts[1], ends[4] = 5.0, 5.0        # "gegenüber leisten. Auch aus": crosses the stop
    ends[2] = 3.0                        # "gegenüber leisten.": inside the first sentence
    spans = reader._window_spans(context, words, np.ones(len(words), bool), starts, ends, 0.0, 30)
    texts = {text[c.chunk_start:c.chunk_end] for c in spans}
    assert "gegenüber leisten." in texts
    assert not any(second in range(c.chunk_start + 1, c.chunk_end) for c in spans)
    # without sentence bounds (a chunk that has none), or with the rules off, nothing is dropped
    bare = _Context(text, (_Segment(0, 0, len(text)),))
    spans = reader._window_spans(bare, words, np.ones(len(words), bool), starts, ends, 0.0, 30)
    assert any(c.chunk_start < second < c.chunk_end for c in spans)
    # a word's offsets that include the space before it (sentencepiece's "▁Auch") still start
    # the second sentence: the span beginning there does not cross
    spaced = list(words)
    spaced[3] = (spaced[3][0] - 1, spaced[3][1])
    starts2, ends2 = np.full(len(words), -5.0), np.full(len(words), -5.0)
    starts2[3], ends2[5] = 5.0, 5.0      # " Auch aus Berlin"
    spans = reader._window_spans(context, spaced, np.ones(len(words), bool), starts2, ends2, 0.0, 30)
    assert any(text[c.chunk_start:c.chunk_end].strip() == "Auch aus Berlin" for c in spans)
    off = make_reader(tiny_model_and_tokenizer, mode="separate", whole_words=False, span_rules=False)
    spans = off._window_spans(context, words, np.ones(len(words), bool), starts, ends, 0.0, 30)
    assert any(c.chunk_start < second < c.chunk_end for c in spans)


@pytest.mark.parametrize("question, one", [
    ("Wer ist der US-Sondergesandte?", True), ("Who is the US special envoy?", True),
    ("Wie heißt der französische Präsident?", True),
    ("Wer hat Selenskyj Unterstützung zugesichert?", False),   # "wer" alone: any number
    ("Wer ist der Präsident und wer der Kanzler?", False),
    ("Wer sind die Gastgeber?", False),
])
def test_questions_that_ask_for_one_name(question, one):
    from qa.reading.reader import asks_for_one_name

    assert asks_for_one_name(question) is one


@pytest.mark.parametrize("span, first", [
    ("Olaf Scholz und Emmanuel Macron", "Olaf Scholz"), ("Scholz, Macron und Biden", "Scholz"),
    ("Steve Witkoff", "Steve Witkoff"), ("die USA und Großbritannien", "die USA und Großbritannien"),
    ("Präsident Joe Biden", "Präsident Joe Biden"),
])
def test_first_listed_name(span, first):
    from qa.reading.reader import first_listed

    assert first_listed(span) == first


def test_one_name_question_gets_the_first_name_of_a_list(tiny_model_and_tokenizer):
    from qa.reading.reader import _Candidate

    reader = make_reader(tiny_model_and_tokenizer, mode="separate")
    text = "Gastgeber waren Olaf Scholz und Emmanuel Macron."
    doc = Document("a", "", text)
    hits = [scored_hit(doc, rank=1, dense=0.9)]
    start = text.index("Olaf")
    candidates = [_Candidate(0, start, len(text) - 1, logit=10.0, null_logit=0.0)]
    listed = reader._evidence(hits, candidates, 0.0, 1, top_n=1)
    assert listed.answers[0].text == "Olaf Scholz und Emmanuel Macron"
    one = reader._evidence(hits, candidates, 0.0, 1, top_n=1, one_name=True).answers[0]
    assert one.text == "Olaf Scholz" and text[one.start:one.end] == "Olaf Scholz"
