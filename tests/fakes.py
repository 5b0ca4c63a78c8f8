"""Fakes and tiny models for unit tests: no downloads, no real weights, a few seconds at most.

Each block below belongs to one area; add new blocks, do not rewrite others'.
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Callable, Sequence


# --- readers (qa/reading/reader.py) -------------------------------------------------------

class FakeReader:
    """A deterministic reader: for each hit, ``answer_for(question)`` if it occurs in the chunk
    text, else the chunk's longest word. Scores fall with the hit's rank and sum to at most 1.

    Implements ``qa.reading.reader.Reader`` (``read`` and ``read_with_evidence``), with the invariant
    ``chunk.text[a.start - chunk.start : a.end - chunk.start] == a.text``.
    """

    def __init__(self, *, name: str = "fake-reader",
                 answer_for: Callable[[str], str | None] | None = None,
                 null_logit: float = 0.0) -> None:
        self.name = name
        self.answer_for = answer_for
        self.null_logit = null_logit
        self.calls: list[tuple[str, int]] = []

    def read(self, question: str, hits: Sequence, *, top_n: int = 3,
             max_answer_tokens: int = 30) -> list:
        return list(self.read_with_evidence(question, hits, top_n=top_n,
                                            max_answer_tokens=max_answer_tokens).answers)

    def read_with_evidence(self, question: str, hits: Sequence, *, top_n: int = 3,
                           max_answer_tokens: int = 30):
        from qa.reading.reader import ReaderEvidence
        from qa.types import Answer

        self.calls.append((question, len(hits)))
        wanted = self.answer_for(question) if self.answer_for is not None else None
        found = []
        for position, hit in enumerate(hits):
            text = hit.chunk.text
            if wanted and wanted in text:
                offset, span = text.index(wanted), wanted
            else:
                words = re.findall(r"\w+", text)
                if not words:
                    continue
                span = max(words, key=len)
                offset = re.search(r"\b" + re.escape(span) + r"\b", text).start()
            found.append((position, hit, offset, span))
        weights = [1.0 / (2 ** position) for position, *_ in found]
        total = sum(weights) or 1.0
        answers, seen = [], set()
        for weight, (position, hit, offset, span) in zip(weights, found):
            if span.casefold() in seen:
                continue
            seen.add(span.casefold())
            start = hit.chunk.start + offset
            answers.append(Answer(
                text=span, score=weight / total, doc_id=hit.chunk.doc_id, title=hit.title,
                start=start, end=start + len(span), sentence=hit.chunk.text,
                sentence_start=hit.chunk.start, sentence_end=hit.chunk.end, hit=hit,
                reader=self.name))
        answers = answers[:top_n]
        logits = tuple(10.0 * a.score for a in answers)
        return ReaderEvidence(
            answers=tuple(answers), span_logits=logits,
            null_logits=tuple(self.null_logit for _ in answers),
            best_span_logit=logits[0] if logits else None,
            null_logit=self.null_logit if hits else None,
            null_probability=0.0 if answers else 1.0,
            candidates=len(found), windows=len(hits))


# A tiny extractive QA model that really extracts: trained for a few dozen steps to answer
# with the word after "Antwort:" in a context of German filler words.
TINY_QA_QUESTION = "Was ist die Antwort?"
TINY_QA_FILLER = ("der die das und in im mit von zu auf ist war hat sind wird nach bei aus "
                  "ein eine nicht auch").split()
TINY_QA_ANSWERS = "genf berlin paris wien rom kiew moskau london madrid prag oslo bern".split()


def tiny_qa_context(rng: random.Random, n_words: int) -> tuple[str, int, str]:
    """A filler context with "Antwort: <Stadt>" somewhere: (text, answer char start, answer)."""
    words = [rng.choice(TINY_QA_FILLER) for _ in range(n_words)]
    answer = rng.choice(TINY_QA_ANSWERS).capitalize()
    position = rng.randrange(0, n_words + 1)
    before = " ".join(words[:position])
    prefix = (before + " " if before else "") + "Antwort: "
    after = " ".join(words[position:])
    text = prefix + answer + (" " + after if after else "") + "."
    return text, len(prefix), answer


def build_tiny_qa_model(folder: Path, *, steps: int = 60, seed: int = 0,
                        max_words: int = 40) -> Path:
    """Train and save a BertForQuestionAnswering (hidden 32, 2 layers) + WordLevel fast
    tokenizer into ``folder``; reload with AutoModelForQuestionAnswering/AutoTokenizer."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertForQuestionAnswering, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = sorted(set(TINY_QA_FILLER + TINY_QA_ANSWERS + ["antwort", "was", ":", ".", "?"]))
    vocab = {w: i for i, w in enumerate(specials + words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=128)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForQuestionAnswering(config)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add contention on a busy machine
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    rng = random.Random(seed)
    model.train()
    for _ in range(steps):
        batch = [tiny_qa_context(rng, rng.randrange(2, max_words)) for _ in range(32)]
        encoding = tokenizer([TINY_QA_QUESTION] * len(batch), [b[0] for b in batch],
                             padding=True, return_tensors="pt")
        starts = [encoding.char_to_token(i, s, sequence_index=1) for i, (_, s, _) in enumerate(batch)]
        ends = [encoding.char_to_token(i, s + len(a) - 1, sequence_index=1)
                for i, (_, s, a) in enumerate(batch)]
        loss = model(**encoding, start_positions=torch.tensor(starts),
                     end_positions=torch.tensor(ends)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    torch.set_num_threads(threads)
    model.eval()
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


# --- pipeline for the app (qa/web/app.py, qa/answering) ------------------------------------

def fake_documents(folder: Path) -> list:
    """The Documents of ``folder``, loaded as the real index loads them."""
    from embeddings.documents import load_corpus

    return load_corpus(folder)


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.casefold()) if len(w) >= 4}


class FakeRetriever:
    """Paragraph chunks ranked by shared content words (4+ letters); exact document offsets."""

    def __init__(self, documents: Sequence) -> None:
        from embeddings.chunking import Chunk

        self.documents = {d.doc_id: d for d in documents}
        self.chunks = []
        for doc in documents:
            for match in re.finditer(r"\S(?:.*\S)?", doc.text):  # non-empty lines, stripped
                self.chunks.append(Chunk(doc.doc_id, match.start(), match.end(), match.group()))

    def search(self, question: str, *, k: int = 5, doc_ids=None, outlet=None, date_from=None,
               date_to=None) -> list:
        from qa.types import Hit

        if (outlet, date_from, date_to) != (None, None, None):
            raise NotImplementedError("FakeRetriever filters by doc_ids only")
        wanted = _content_words(question)
        allowed = None if doc_ids is None else set(doc_ids)
        scored = [(len(wanted & _content_words(c.text)), -i, c) for i, c in enumerate(self.chunks)
                  if allowed is None or c.doc_id in allowed]
        scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
        hits = []
        for rank, (overlap, _, chunk) in enumerate(scored[:k], start=1):
            doc = self.documents[chunk.doc_id]
            hits.append(Hit(chunk=chunk, score=overlap / (len(wanted) or 1), rank=rank,
                            title=doc.title, metadata=doc.metadata))
        return hits


class FakePipeline:
    """``QAPipeline``'s interface over FakeRetriever + FakeReader: abstains when no passage
    shares a content word with the question. Records every call in ``calls``."""

    def __init__(self, documents: Sequence, *, reader: "FakeReader | None" = None) -> None:
        self.retriever = FakeRetriever(documents)
        self.reader = FakeReader() if reader is None else reader
        self.reader_name = self.reader.name
        # Only its threshold is used here (the chat's slider starts at it); the fake abstains
        # on its own rule below.
        self.confidence = margin_only_policy()
        self.calls: list[dict] = []

    def ask(self, question: str, *, k: int = 5, top_n: int = 3, doc_ids=None, history=None,
            threshold: float | None = None):
        from qa.answering.question import resolve_followup
        from embeddings.errors import QAError
        from qa.types import Response

        self.calls.append({"question": question, "k": k, "top_n": top_n, "doc_ids": doc_ids,
                           "history": history, "threshold": threshold})
        if "RAISE-QAERROR" in question:
            raise QAError("the fake pipeline was asked to fail (tests/fakes.py)")
        query = resolve_followup(question, list(history)) if history else question
        hits = self.retriever.search(query, k=k, doc_ids=doc_ids)
        relevant = [h for h in hits if h.score > 0]
        answers = tuple(self.reader.read(query, relevant, top_n=top_n)) if relevant else ()
        confidence = answers[0].score if answers else 0.0
        abstained = not answers or (threshold is not None and confidence < threshold)
        return Response(question=question, answers=() if abstained else answers,
                        hits=tuple(hits), reader=self.reader_name, abstained=abstained,
                        retrieval_query=query, confidence=confidence)


def margin_only_policy():
    """The default ConfidencePolicy is calibrated on e5 cosines; the fake embedder's are not
    comparable, so fakes decide on the reader's margin alone (threshold 0.5)."""
    from qa.answering.confidence import ConfidencePolicy

    return ConfidencePolicy(weights={"margin": 1.0}, bias=0.0, none_below=0.5, confident_from=0.8)


# --- systems (qa/system.py): how tests hand fakes to the commands and the app ---------------

def fake_loader(*, embedder: "FakeEmbedder | None" = None, reader: "FakeReader | None" = None,
                confidence=None) -> Callable:
    """A ``load_system`` for ``qa.commands.main.main`` and ``qa.web.app.serve``: the real
    ``QASystem.load`` (real index, retriever and pipeline) with the fake embedder, a FakeReader
    (or ``reader``) and the margin-only confidence, chosen through the loader's own arguments."""
    import functools

    from qa.system import QASystem

    return functools.partial(QASystem.load, embedder=FakeEmbedder() if embedder is None else embedder,
                             reader=FakeReader() if reader is None else reader,
                             confidence=margin_only_policy() if confidence is None else confidence)


def fake_system(corpus_dir: Path, index_dir: Path, *, reader: "FakeReader | None" = None,
                mode: str = "hybrid", **settings):
    """``QASystem.load`` over ``corpus_dir`` with the fakes of :func:`fake_loader`: a real,
    changeable index (articles can be added, as in the app) in well under a second."""
    from qa.settings import Settings

    loaded = Settings(corpus_dir=Path(corpus_dir), index_dir=Path(index_dir), retrieval_mode=mode, **settings)
    return fake_loader(reader=reader)(loaded, show_progress=False)


class LoaderSpy:
    """Wraps a ``load_system``: records each call's settings and options in ``calls`` (so a
    test can check that nothing was loaded), then loads with ``load``."""

    def __init__(self, load: Callable) -> None:
        self.load = load
        self.calls: list[dict] = []

    def __call__(self, settings, **options):
        self.calls.append({"settings": settings, **options})
        return self.load(settings, **options)

    @property
    def settings(self) -> list:
        return [call["settings"] for call in self.calls]


# --- embeddings (embeddings/encoder.py) -------------------------------------------------------

class FakeEmbedder:
    """A hash-seeded bag-of-words embedder: texts sharing words get similar unit vectors.

    Implements ``embeddings.encoder.Embedder``; tokens are lower-cased words, so
    ``count_tokens`` is the word count plus two special tokens.
    """

    def __init__(self, *, dimension: int = 64, max_tokens: int = 128, name: str = "fake-embedder",
                 fingerprint: str = "fake-1") -> None:
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.name = name
        self.fingerprint = fingerprint
        self.passages_encoded = 0

    def _vector(self, text: str):
        import hashlib

        import numpy as np

        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            seed = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:4], "little")
            vector += np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    def _encode(self, texts: Sequence[str]):
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def encode_queries(self, texts: Sequence[str]):
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False):
        self.passages_encoded += len(texts)
        return self._encode(texts)

    def fork(self) -> "FakeEmbedder":
        """No tokenizer state to keep apart: the same object (its counts stay in one place)."""
        return self

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+", text)) + 2

    def query_tokens(self, text: str) -> int:
        return self.count_tokens(text)


# --- evaluation (qa/evaluation) ---------------------------------------------------------------

TINY_SQUAD_ARTICLES = (
    ("Genf", (
        ("Die Gespräche der USA mit Russland finden in Genf statt. Der US-Sondergesandte "
         "Steve Witkoff leitet die Delegation.",
         (("q-genf", "Wo finden die Gespräche statt?", "Genf"),
          ("q-witkoff", "Wer ist der US-Sondergesandte?", "Steve Witkoff"))),
        ("Seit 2014 sind im Donbass mehr als 13 000 Menschen getötet worden.",
         (("q-donbass", "Wie viele Menschen sind im Donbass getötet worden?", "mehr als 13 000"),)),
    )),
    ("NATO", (
        ("Die NATO wurde 1949 in Washington gegründet. Ihr Hauptquartier liegt in Brüssel.",
         (("q-gruendung", "Wann wurde die NATO gegründet?", "1949"),
          ("q-hq", "Welche Stadt beherbergt das Hauptquartier?", "Brüssel"))),
    )),
)


def tiny_squad(*, lang: str = "de", impossible: tuple[str, ...] = ()) -> dict:
    """A small SQuAD v1.1 dict (v2.0 style ``is_impossible`` for the ids in ``impossible``);
    ``lang="en"`` gives the same ids with English question texts."""
    english = {"q-genf": "Where do the talks take place?", "q-witkoff": "Who is the US special envoy?",
               "q-donbass": "How many people have been killed in Donbass?",
               "q-gruendung": "When was NATO founded?", "q-hq": "Which city hosts the headquarters?"}
    data = []
    for title, paragraphs in TINY_SQUAD_ARTICLES:
        paras = []
        for context, qas in paragraphs:
            items = []
            for qid, question, answer in qas:
                item = {"id": qid, "question": english[qid] if lang == "en" else question,
                        "answers": [{"text": answer, "answer_start": context.index(answer)}]}
                if qid in impossible:
                    item.update(is_impossible=True, answers=[])
                items.append(item)
            paras.append({"context": context, "qas": items})
        data.append({"title": title, "paragraphs": paras})
    return {"version": "2.0" if impossible else "1.1", "data": data}


class ScriptedReader:
    """A reader that answers from a table ``question -> answer text`` by finding the text in
    the passages (exact document offsets); an unknown question or a missing text gives []."""

    def __init__(self, answers: dict[str, str], *, name: str = "scripted-reader", score: float = 0.8) -> None:
        self.answers = dict(answers)
        self.name = name
        self.score = score

    def read(self, question: str, hits: Sequence, *, top_n: int = 3, max_answer_tokens: int = 30) -> list:
        from qa.types import Answer

        wanted = self.answers.get(question)
        for hit in hits:
            if wanted and wanted in hit.chunk.text:
                start = hit.chunk.start + hit.chunk.text.index(wanted)
                return [Answer(text=wanted, score=self.score, doc_id=hit.chunk.doc_id, title=hit.title,
                               start=start, end=start + len(wanted), sentence=hit.chunk.text,
                               sentence_start=hit.chunk.start, sentence_end=hit.chunk.end, hit=hit,
                               reader=self.name)][:top_n]
        return []


class ScriptedPipeline:
    """``QAPipeline.ask`` over any retriever and a ScriptedReader: abstains when it finds nothing."""

    def __init__(self, retriever, reader: ScriptedReader) -> None:
        self.retriever = retriever
        self.reader = reader
        self.reader_name = reader.name

    def ask(self, question: str, *, k: int = 5, top_n: int = 3, doc_ids=None, history=None,
            threshold: float | None = None):
        from qa.types import Response

        hits = tuple(self.retriever.search(question, k=k, doc_ids=doc_ids))
        answers = tuple(self.reader.read(question, hits, top_n=top_n))
        return Response(question=question, answers=answers, hits=hits, reader=self.reader_name,
                        abstained=not answers, retrieval_query=question, confidence=0.9 if answers else 0.1)


class TieredPipeline:
    """``QAPipeline.ask`` graded as the real one grades: a table ``question -> (candidate text,
    confidence, tier)``. The candidate is found in the retrieved passages (exact offsets) and is
    in ``candidates`` whatever the tier; ``answers`` is empty when the tier is "none". A question
    not in the table, or whose text is in no passage, has no candidate and tier "none"."""

    def __init__(self, retriever, table: dict[str, tuple[str, float, str]], *, name: str = "tiered-reader") -> None:
        self.retriever = retriever
        self.table = dict(table)
        self.reader = ScriptedReader({}, name=name)   # the name; answers come from the table
        self.reader_name = name

    def ask(self, question: str, *, k: int = 5, top_n: int = 3, doc_ids=None, history=None,
            threshold: float | None = None):
        from qa.types import Response

        hits = tuple(self.retriever.search(question, k=k, doc_ids=doc_ids))
        text, confidence, tier = self.table.get(question, ("", 0.0, "none"))
        found = ScriptedReader({question: text}, name=self.reader_name, score=confidence).read(question, hits)
        if not found:
            tier = "none"
        shown = tier != "none"
        return Response(question=question, answers=tuple(found) if shown else (), hits=hits,
                        reader=self.reader_name, abstained=not shown, retrieval_query=question,
                        confidence=confidence, tier=tier, candidates=tuple(found))

