"""Questions asked at the same time are answered as one batch on the system's worker thread,
with exactly the answers each gets alone (qa.answering.batching, QASystem.ask, read_many)."""
from __future__ import annotations

import json
import random
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings.errors import QAError
from qa.answering.batching import BatchWorker
from qa.answering.pipeline import Question
from qa.reading.reader import TransformersReader
from qa.system import QASystem
from qa.types import Hit
from tests.conftest import REPO, SEEDS
from tests.fakes import TINY_QA_FILLER, TINY_QA_QUESTION, build_tiny_qa_model, fake_system, tiny_qa_context

FIRST = "Wo finden die Gespräche der USA mit Russland statt?"
DONBASS = "000_d219b86bc509e6da.txt"


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    """Wait until ``condition()`` holds (not a timing assertion: only a bound on a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.005)


class Gated:
    """A system's pipeline that stops at ``gate`` on each call and records the batches it got
    (question texts) and the threads they ran on; questions containing ``fail_on`` raise."""

    def __init__(self, inner, *, fail_on: str | None = None) -> None:
        self.inner, self.fail_on = inner, fail_on
        self.retriever, self.reader, self.confidence = inner.retriever, inner.reader, inner.confidence
        self.gate, self.entered = threading.Event(), threading.Event()
        self.gate.set()
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()

    def ask(self, question, **options):
        self._enter([question])
        return self.inner.ask(question, **options)

    def ask_many(self, questions):
        self._enter([q.text for q in questions])
        return self.inner.ask_many(questions)

    def _enter(self, texts: list[str]) -> None:
        self.batches.append(texts)
        self.threads.add(threading.current_thread().name)
        self.entered.set()
        assert self.gate.wait(30)
        if self.fail_on and any(self.fail_on in text for text in texts):
            raise QAError(f"asked to fail on {self.fail_on!r}")


def gated_system(corpus, index_dir, *, fail_on: str | None = None, **settings) -> tuple[QASystem, Gated]:
    loaded = fake_system(corpus, index_dir)
    gated = Gated(loaded.pipeline, fail_on=fail_on)
    system = QASystem(loaded.settings.replace(**settings), pipeline=gated, index=loaded.index)
    return system, gated


def ask_together(system: QASystem, gated: Gated, calls: list[tuple[str, dict]]) -> list:
    """Hold the worker in a first question, queue ``calls`` behind it from one thread each,
    then let them go: they arrive while a batch runs. Each call's Response or exception."""
    gated.gate.clear()
    gated.entered.clear()
    with ThreadPoolExecutor(len(calls) + 1) as pool:
        first = pool.submit(system.ask, FIRST)
        wait_for(gated.entered.is_set, "the first question to reach the pipeline")
        futures = [pool.submit(system.ask, question, **options) for question, options in calls]
        wait_for(lambda: len(system._asking._pending) == len(calls), "the questions to queue")
        gated.gate.set()
        first.result()
        return [f.exception() or f.result() for f in futures]


# Per-request options: passages, answers, threshold, a follow-up, a restriction to one article.
CALLS = [
    ("Wie viele Menschen sind im Donbass getötet worden?", {}),
    ("Was bot Biden der Ukraine an?", {"k": 1, "top_n": 1}),
    ("When is the NATO-Russia Council meeting?", {"k": 7, "top_n": 3, "threshold": 0.0}),
    ("Und wann?", {"history": [FIRST]}),
    ("Wo finden die Gespräche statt?", {"doc_ids": [DONBASS]}),
    ("Wo finden die Gespräche statt?", {"threshold": 1.0}),
]


def test_questions_asked_together_are_one_batch_with_the_answers_each_gets_alone(tmp_path):
    system, gated = gated_system(SEEDS, tmp_path / "index")
    together = ask_together(system, gated, CALLS)
    assert gated.batches[0] == [FIRST] and sorted(gated.batches[1]) == sorted(q for q, _ in CALLS)
    assert len(gated.batches) == 2
    alone = [system.ask(question, **options) for question, options in CALLS]
    assert gated.batches[2:] == [[question] for question, _ in CALLS]
    assert together == alone
    # The options did reach each question: they change the answers.
    assert [len(r.hits) for r in alone[:3]] == [3, 1, 7]
    assert len(alone[1].candidates) == 1 and not alone[2].abstained and alone[5].abstained
    assert alone[3].retrieval_query != "Und wann?"
    assert {hit.doc_id for hit in alone[4].hits} == {DONBASS}


def test_the_same_question_asked_together_is_read_once(tmp_path):
    system, gated = gated_system(SEEDS, tmp_path / "index")
    calls = [CALLS[0], CALLS[1], CALLS[0], CALLS[0], (CALLS[0][0], {"k": 2}), CALLS[1]]
    reader = system.pipeline.reader
    read_before = len(reader.calls)
    together = ask_together(system, gated, calls)
    assert len(reader.calls) - read_before == 1 + 3   # the first question, then 3 distinct ones
    assert together == [system.ask(question, **options) for question, options in calls]


def test_all_questions_run_on_the_systems_one_worker_thread(tmp_path):
    system, gated = gated_system(SEEDS, tmp_path / "index")
    ask_together(system, gated, CALLS)
    system.ask(FIRST)
    assert gated.threads == {"qa-ask"}
    assert threading.current_thread().name != "qa-ask"


def test_an_error_in_one_question_reaches_only_its_caller(tmp_path):
    system, gated = gated_system(SEEDS, tmp_path / "index", fail_on="BOOM")
    calls = CALLS[:2] + [("Was ist BOOM?", {})] + CALLS[2:4]
    outcomes = ask_together(system, gated, calls)
    assert isinstance(outcomes[2], QAError) and "BOOM" in str(outcomes[2])
    # The batch failed as a whole, so each question was answered alone: only "BOOM" failed.
    assert sorted(gated.batches[1]) == sorted(question for question, _ in calls)
    assert sorted(gated.batches[2:]) == sorted([question] for question, _ in calls)
    good = [o for i, o in enumerate(outcomes) if i != 2]
    assert good == [system.ask(question, **options) for question, options in CALLS[:4]]


def test_bad_input_is_refused_in_the_callers_thread_and_never_queued(tmp_path):
    system, gated = gated_system(SEEDS, tmp_path / "index")
    for question, options, message in (("  ", {}, "type a question"), (FIRST, {"k": 0}, r"k \(passages"),
                                       (FIRST, {"threshold": 2}, "threshold"),
                                       (FIRST, {"doc_ids": ["nope.txt"]}, "unknown article")):
        with pytest.raises(QAError, match=message):
            system.ask(question, **options)
    assert gated.batches == []


@pytest.mark.parametrize("batch_size, sizes", [(2, [1, 2, 2, 2]), (1, [1] * 7), (16, [1, 6])])
def test_batch_size_caps_a_batch_and_is_how_many_questions_may_be_in_flight(tmp_path, batch_size, sizes):
    system, gated = gated_system(SEEDS, tmp_path / "index", batch_size=batch_size)
    assert system.concurrent_questions == batch_size
    ask_together(system, gated, CALLS)
    assert [len(batch) for batch in gated.batches] == sizes


def test_a_batch_size_below_one_is_refused(tmp_path):
    with pytest.raises(QAError, match="batch size"):
        gated_system(SEEDS, tmp_path / "index", batch_size=0)


def test_a_corpus_change_waits_for_the_batch_in_flight(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    system = fake_system(corpus, tmp_path / "index")
    gated = Gated(system.pipeline)
    system.pipeline = gated
    gated.gate.clear()
    with ThreadPoolExecutor(2) as pool:
        asked = pool.submit(system.ask, FIRST, doc_ids=[DONBASS])
        wait_for(gated.entered.is_set, "the question to reach the pipeline")
        removed = pool.submit(system.remove, [DONBASS])
        time.sleep(0.3)
        assert not removed.done()   # the new index is not swapped in under a running question
        gated.gate.set()
        assert {hit.doc_id for hit in asked.result().hits} == {DONBASS}
        removed.result()
    assert DONBASS not in system.documents
    with pytest.raises(QAError, match="unknown article"):
        system.ask(FIRST, doc_ids=[DONBASS])


def test_the_worker_thread_ends_when_idle_and_a_new_one_answers_later():
    worker = BatchWorker(lambda batch: [text.upper() for text in batch], max_batch=4, idle_seconds=0.01)
    assert worker.submit("a") == "A"
    wait_for(lambda: worker._thread is None, "the idle worker to end")
    assert worker.submit("b") == "B"
    assert [size for size, _ in worker.recent] == [1, 1]


def test_a_failing_batch_function_reaches_every_caller_and_the_worker_goes_on():
    def answer(batch):
        if "bad" in batch:
            raise RuntimeError("broken")
        return batch

    worker = BatchWorker(answer, max_batch=4)
    with pytest.raises(RuntimeError, match="broken"):
        worker.submit("bad")
    assert worker.submit("good") == "good"


def test_the_app_lets_as_many_questions_through_as_a_batch_holds(tmp_path):
    from qa.web.app import ChatService
    from qa.web.page import build_app

    system = fake_system(SEEDS, tmp_path / "index", batch_size=5)
    blocks = build_app(ChatService(system))
    limits = {fn.name: fn.concurrency_limit for fn in blocks.fns.values() if fn.concurrency_id == "pipeline"}
    assert limits and set(limits.values()) == {5}
    # adding articles queues on its own: uploads never hold the slots questions need
    adding = [fn for fn in blocks.fns.values() if fn.name == "add_from_form"]
    assert [(fn.concurrency_id, fn.concurrency_limit) for fn in adding] == [("adding", 1)]
    assert "add_from_form" not in limits


# --- the reader: several questions' windows in shared forward passes -----------------------

@pytest.fixture(scope="module")
def tiny_reader(tmp_path_factory):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    folder = build_tiny_qa_model(tmp_path_factory.mktemp("tiny-qa"))
    return TransformersReader(AutoModelForQuestionAnswering.from_pretrained(folder).eval(),
                              AutoTokenizer.from_pretrained(folder), name="tiny-qa",
                              max_length=48, stride=12, batch_size=3)


def filler(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(TINY_QA_FILLER) for _ in range(n)) + "."


def count_forward_passes(reader):
    passes: list[int] = []
    handle = reader.model.register_forward_hook(lambda *_: passes.append(1))
    return passes, handle


def test_read_many_gives_exactly_each_questions_own_reading_in_fewer_passes(tiny_reader):
    rng = random.Random(4)
    questions, hits = [], []
    for i in range(6):
        docs = [Document(f"q{i}d{j}", "", filler(rng, rng.randrange(2, 40)) + " "
                         + tiny_qa_context(rng, rng.randrange(3, 40))[0]) for j in range(rng.randrange(1, 4))]
        hits.append([Hit(chunk=Chunk(d.doc_id, 0, len(d.text), d.text), score=1.0 - 0.1 * r, rank=r + 1,
                         dense_score=0.9 - 0.05 * r) for r, d in enumerate(docs)])
        questions.append(TINY_QA_QUESTION if i % 2 == 0 else f"Was steht nach {i} Antwort?")
    top_n = [1, 3, 5, 2, 3, 1]
    passes, handle = count_forward_passes(tiny_reader)
    try:
        alone = [tiny_reader.read_with_evidence(q, h, top_n=n) for q, h, n in zip(questions, hits, top_n)]
        single_passes = len(passes)
        passes.clear()
        together = tiny_reader.read_many(questions, hits, top_n=top_n)
    finally:
        handle.remove()
    assert together == alone            # bit for bit: logits, scores, spans
    assert sum(e.windows for e in alone) > 2 * len(questions)   # several windows, several widths
    assert len(passes) < single_passes


def test_read_many_passes_empty_questions_and_hit_lists_through(tiny_reader):
    doc = Document("d", "", tiny_qa_context(random.Random(1), 5)[0])
    hit = Hit(chunk=Chunk("d", 0, len(doc.text), doc.text), score=1.0, rank=1)
    together = tiny_reader.read_many([TINY_QA_QUESTION, TINY_QA_QUESTION, " "], [[hit], [], [hit]], top_n=[1, 1, 1])
    assert together[0] == tiny_reader.read_with_evidence(TINY_QA_QUESTION, [hit], top_n=1)
    assert together[1].answers == () and together[2].answers == ()


# --- the real models -------------------------------------------------------------------------

@pytest.mark.slow
def test_real_models_answer_a_batch_exactly_as_one_by_one(seeds_pipeline):
    rows = [json.loads(line) for line in (REPO / "eval" / "seeds_dev.jsonl").read_text().splitlines()]
    # Among them the two whose vectors a shared embedding call moved (so questions are embedded alone).
    questions = [Question(row["question"], k=3 + i % 3, top_n=1 + i % 3) for i, row in enumerate(rows[56:72])]
    together = seeds_pipeline.ask_many(questions)
    alone = [seeds_pipeline.ask(q.text, k=q.k, top_n=q.top_n) for q in questions]
    assert together == alone
    assert len({len(r.hits) for r in together}) == 3 and any(r.answers for r in together)
