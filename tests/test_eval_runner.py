"""The runner and its metrics, driven by fakes: modes, retrieval ranks, abstention, breakdowns."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings.errors import QAError
from qa.evaluation.datasets import EvalDataset, EvalQuestion, load_dataset
from qa.evaluation.metrics import question_type, summarise
from qa.evaluation.runner import RunConfig, contains_answer, evaluate
from qa.types import Hit
from tests.fakes import FakeRetriever, ScriptedPipeline, ScriptedReader, tiny_squad


class ListRetriever:
    """Returns fixed chunks in a fixed order for every question, and remembers k."""

    def __init__(self, chunks):
        self.chunks = chunks
        self.ks = []

    def search(self, question, *, k=5, doc_ids=None):
        self.ks.append(k)
        return [Hit(chunk=c, score=1.0 - i / 100, rank=i + 1) for i, c in enumerate(self.chunks[:k])]


def chunk(doc_id: str, text: str, start: int = 0) -> Chunk:
    return Chunk(doc_id=doc_id, start=start, end=start + len(text), text=text)


def question(qid: str, text: str, answers, **kw) -> EvalQuestion:
    return EvalQuestion(id=qid, question=text, answers=answers, **kw)


def dataset_of(*questions: EvalQuestion, documents=()) -> EvalDataset:
    return EvalDataset(name="t", path=Path("t.jsonl"), format="jsonl",
                       questions=tuple(questions), documents=tuple(documents))


@pytest.fixture()
def tiny(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_squad(impossible=("q-hq",))), encoding="utf-8")
    return load_dataset(path)


def test_retrieval_ranks_by_answer_string():
    chunks = [chunk("d1", "Nichts hier."), chunk("d2", "Die Gespräche finden in Genf statt."),
              chunk("d3", "Genf again.")] + [chunk(f"x{i}", "Füllung.") for i in range(12)]
    data = dataset_of(question("a", "Wo?", ("Genf",)), question("b", "Wer?", ("Witkoff",)),
                      question("c", "Nichts?", ()))
    retriever = ListRetriever(chunks)
    results = evaluate(data, RunConfig(mode="retrieval", k=5), retriever=retriever, progress=False)
    assert retriever.ks == [10, 10, 10]          # retrieval mode reads at least 10 for recall@10
    assert [r.first_relevant_rank for r in results] == [2, None, None]
    assert [c.relevant for c in results[0].retrieved[:3]] == [False, True, True]
    metrics = summarise(results, RunConfig(mode="retrieval", k=5), run={})
    retrieval = metrics["retrieval"]
    assert retrieval["n"] == 2                    # the no-answer question is not judged
    assert retrieval["recall@1"] == 0.0
    assert retrieval["recall@5"] == 50.0
    assert retrieval["mrr@10"] == pytest.approx(0.25)   # (1/2 + 0) / 2
    assert retrieval["ndcg@10"] is None           # answer-string relevance: no nDCG
    assert metrics["answers"] is None and metrics["abstention"] is None


def test_document_relevance_and_ndcg():
    chunks = [chunk("other", "x"), chunk("gold", "y"), chunk("gold", "z", start=5)] + \
             [chunk(f"o{i}", "w") for i in range(10)]
    data = dataset_of(question("a", "Q?", None, context_id="gold"))
    config = RunConfig(mode="retrieval", k=10, relevance="document")
    metrics = summarise(evaluate(data, config, retriever=ListRetriever(chunks), progress=False), config, run={})
    # The gold document first appears at rank 2; its second chunk earns nothing more.
    assert metrics["retrieval"]["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert metrics["retrieval"]["mrr@5"] == pytest.approx(0.5)
    assert metrics["retrieval"]["relevance"] == "document"


def test_end_to_end_records_answers_citations_and_abstention(tiny):
    reader = ScriptedReader({
        "Wo finden die Gespräche statt?": "Genf",                     # right
        "Wer ist der US-Sondergesandte?": "Witkoff",                 # partly right
        "Wann wurde die NATO gegründet?": "Washington",              # wrong
        "Welche Stadt beherbergt das Hauptquartier?": "Brüssel",     # answers a no-answer question
    })
    pipeline = ScriptedPipeline(FakeRetriever(tiny.documents), reader)
    config = RunConfig(mode="end-to-end", k=5, top_n=1, relevance="document")
    results = evaluate(tiny, config, pipeline=pipeline, progress=False)
    by_id = {r.id: r for r in results}
    genf = by_id["q-genf"]
    assert (genf.prediction, genf.em, genf.f1, genf.abstained) == ("Genf", 1.0, 1.0, False)
    document = next(d for d in tiny.documents if d.doc_id == genf.cited.doc_id)
    assert document.text[genf.cited.start:genf.cited.end] == "Genf"
    assert genf.passage_doc_id == genf.cited.doc_id and "Genf" in genf.passage
    assert genf.confidence == 0.9 and genf.latency_ms >= 0
    assert by_id["q-witkoff"].f1 == pytest.approx(2 / 3) and by_id["q-witkoff"].em == 0.0
    assert by_id["q-donbass"].abstained and by_id["q-donbass"].f1 == 0.0 and by_id["q-donbass"].cited is None
    assert by_id["q-hq"].answers == [] and by_id["q-hq"].f1 == 0.0      # answered although no answer

    metrics = summarise(results, config, run={"dataset_name": "tiny"})
    assert metrics["answers"]["n"] == 5
    assert metrics["answers"]["em"] == pytest.approx(100 * 1 / 5)
    assert metrics["answers"]["f1"] == pytest.approx(100 * (1 + 2 / 3) / 5)
    assert metrics["abstention"] == {"no_answer_questions": 1, "correctly_abstained": 0.0,
                                     "answerable_questions": 4, "wrongly_abstained": 25.0}
    assert metrics["retrieval"]["recall@10"] is None          # only k=5 passages were retrieved
    assert set(metrics["latency_ms"]) == {"p50", "p95", "max", "mean"}
    assert metrics["breakdowns"]["answerable"]["no answer"]["n"] == 1
    assert metrics["breakdowns"]["article"]["NATO"]["n"] == 2
    assert "article_index" not in metrics["breakdowns"]       # numbers are not breakdown labels
    json.dumps(metrics)                                       # serialisable as is


def test_reader_mode_reads_the_gold_context_only(tiny):
    reader = ScriptedReader({"Wie viele Menschen sind im Donbass getötet worden?": "mehr als 13 000"})
    config = RunConfig(mode="reader")
    results = evaluate(tiny, config, reader=reader, progress=False)
    donbass = next(r for r in results if r.id == "q-donbass")
    assert donbass.em == 1.0 and donbass.retrieved == [] and donbass.passage_start == 0
    assert donbass.cited.doc_id == "tiny-a0-p1"
    hq = next(r for r in results if r.id == "q-hq")
    assert hq.abstained and hq.em == 1.0                      # no answer found, none expected
    assert summarise(results, config, run={})["retrieval"] is None


def test_modes_a_dataset_cannot_support_are_refused_before_running():
    qrels_like = dataset_of(question("a", "Q?", None, context_id="c1"))
    with pytest.raises(QAError, match="no answer spans; use --mode retrieval"):
        evaluate(qrels_like, RunConfig(mode="end-to-end"), pipeline=object(), progress=False)
    no_context = dataset_of(question("a", "Q?", ("x",)))
    with pytest.raises(QAError, match="gold context"):
        evaluate(no_context, RunConfig(mode="reader"), reader=object(), progress=False)
    with pytest.raises(QAError, match="at least 1"):
        evaluate(no_context, RunConfig(mode="end-to-end", k=0), pipeline=object(), progress=False)


@pytest.mark.parametrize("text, expected", [
    ("Wer ist der US-Sondergesandte?", "Wer"),
    ("Von wem wurde das gesagt?", "Wer"),
    ("Seit wann dauert der Krieg?", "Wann"),
    ("Wo finden die Gespräche statt?", "Wo"),
    ("Wie viele Menschen sind getötet worden?", "Wie viele"),
    ("Wieviele Besucher kamen?", "Wie viele"),
    ("In welchem Jahr wurde die NATO gegründet?", "Welche"),
    ("Was fordert die Ukraine?", "Was"),
    ("Wofür war Tesla berühmt?", "Was"),
    ("Warum scheiterten die Gespräche?", "Warum"),
    ("Wie hoch ist der Turm?", "Wie"),
    ("Nennen Sie ein Luxussegment von Toyota.", "other German"),
    ("Who is the US special envoy?", "English"),
    ("Was macht Doctor Who, wenn sein Körper verwundet wird?", "Was"),
    ("How many people were killed in Donbass?", "English"),
])
def test_question_type(text, expected):
    assert question_type(text) == expected


def test_question_type_follows_a_lang_field():
    assert question_type("Genf?", lang="en") == "English"
    assert question_type("Where is Genf?", lang="de") == "other German"


def test_contains_answer_matches_whole_normalised_tokens():
    assert contains_answer("Die Gespräche finden in „Genf“ statt.", "Genf")
    assert contains_answer("mehr als 13\u00a0000 Menschen", "13 000")
    assert not contains_answer("Genfer See", "Genf")
    assert contains_answer("Die Partei die", "die")          # normalises to nothing: raw match


def test_breakdown_by_extra_field_and_progress_off():
    documents = [Document("d", "T", "Genf ist eine Stadt. Steve Witkoff verhandelt.")]
    data = dataset_of(question("a", "Wo ist es?", ("Genf",), extras={"lang": "de", "note": "a city"}),
                      question("b", "Who negotiates?", ("Steve Witkoff",), extras={"lang": "en", "note": "envoy"}))
    pipeline = ScriptedPipeline(FakeRetriever(documents), ScriptedReader({"Wo ist es?": "Genf"}))
    metrics = summarise(evaluate(data, RunConfig(), pipeline=pipeline, progress=False), RunConfig(), run={})
    assert "note" not in metrics["breakdowns"]   # free text, not a category
    assert metrics["breakdowns"]["lang"]["de"]["em"] == 100.0
    assert metrics["breakdowns"]["lang"]["en"]["em"] == 0.0
    assert metrics["breakdowns"]["question_type"]["English"]["abstained"] == 100.0


def test_a_question_the_system_refuses_is_scored_as_no_answer_and_logged(caplog):
    from tests.fakes import FakePipeline

    documents = [Document("d", "T", "Genf ist eine Stadt.")]
    data = dataset_of(question("a", "RAISE-QAERROR Wo?", ("Genf",)), question("b", "Wo ist Genf?", ("Genf",)))
    results = evaluate(data, RunConfig(), pipeline=FakePipeline(documents), progress=False)
    assert results[0].abstained and results[0].f1 == 0.0 and "asked to fail" in results[0].error
    assert results[1].error is None and not results[1].abstained
    assert "question a:" in caplog.text


def test_end_to_end_records_tier_and_the_refused_candidate(tiny):
    from tests.fakes import TieredPipeline

    pipeline = TieredPipeline(FakeRetriever(tiny.documents), {
        "Wo finden die Gespräche statt?": ("Genf", 0.3, "none"),                 # refused, but right
        "Wer ist der US-Sondergesandte?": ("Witkoff", 0.6, "uncertain"),         # shown, flagged
        "Wann wurde die NATO gegründet?": ("1949", 0.95, "confident"),
        "Welche Stadt beherbergt das Hauptquartier?": ("Brüssel", 0.2, "none"),  # no-answer question
    })
    results = {r.id: r for r in evaluate(tiny, RunConfig(), pipeline=pipeline, progress=False)}
    genf = results["q-genf"]
    assert (genf.tier, genf.abstained, genf.prediction, genf.cited) == ("none", True, "", None)
    assert genf.candidate == "Genf" and genf.candidate_f1 == 1.0 and genf.f1_de == 0.0
    assert genf.confidence == 0.3
    witkoff = results["q-witkoff"]
    assert (witkoff.tier, witkoff.abstained, witkoff.prediction) == ("uncertain", False, "Witkoff")
    assert witkoff.candidate_f1 == pytest.approx(2 / 3)
    assert results["q-gruendung"].tier == "confident"
    assert results["q-donbass"].tier == "none" and results["q-donbass"].candidate == ""
    assert results["q-donbass"].candidate_f1 == 0.0            # no candidate: a wrong answer
    hq = results["q-hq"]
    assert hq.candidate == "Brüssel" and hq.candidate_f1 is None and hq.f1 == 1.0
    metrics = summarise(list(results.values()), RunConfig(), run={})
    assert metrics["selective"]["share_by_tier"]["answerable"]["uncertain"] == 25.0
    assert metrics["selective"]["precision_by_tier"]["none"] == 50.0     # Genf right, Brüssel wrong
    assert metrics["abstention"]["wrongly_abstained"] == 50.0             # uncertain is not a refusal


def test_a_response_without_tier_or_candidates_is_graded_by_its_abstention():
    from types import SimpleNamespace

    class OldPipeline:   # a pipeline from before tiers: no tier, no candidates
        def __init__(self, answers):
            self.answers = answers

        def ask(self, question, *, k=5, top_n=3, doc_ids=None, history=None):
            hit = Hit(chunk=chunk("d", "Genf ist eine Stadt."), score=1.0, rank=1)
            found = ScriptedReader({question: "Genf"}).read(question, [hit]) if self.answers else []
            return SimpleNamespace(hits=(hit,), answers=tuple(found), abstained=not found, confidence=0.7)

    data = dataset_of(question("a", "Wo?", ("Genf",)))
    answered = evaluate(data, RunConfig(), pipeline=OldPipeline(True), progress=False)[0]
    assert (answered.tier, answered.candidate, answered.candidate_f1) == ("confident", "Genf", 1.0)
    refused = evaluate(data, RunConfig(), pipeline=OldPipeline(False), progress=False)[0]
    assert (refused.tier, refused.candidate, refused.candidate_f1) == ("none", "", 0.0)


def test_reader_and_retrieval_modes_have_no_tier(tiny):
    reader = ScriptedReader({"Wo finden die Gespräche statt?": "Genf"})
    results = evaluate(tiny, RunConfig(mode="reader"), reader=reader, progress=False)
    genf = next(r for r in results if r.id == "q-genf")
    assert genf.tier is None and genf.candidate == "Genf" and genf.candidate_f1 == 1.0
    assert summarise(results, RunConfig(mode="reader"), run={})["selective"] is None
    retrieved = evaluate(tiny, RunConfig(mode="retrieval"), retriever=FakeRetriever(tiny.documents), progress=False)
    assert all(r.tier is None and r.candidate == "" and r.candidate_f1 is None for r in retrieved)


def test_a_question_that_raises_is_tier_none_without_candidate():
    from tests.fakes import FakePipeline

    data = dataset_of(question("a", "RAISE-QAERROR Wo?", ("Genf",)))
    failed = evaluate(data, RunConfig(), pipeline=FakePipeline([Document("d", "T", "Genf.")]), progress=False)[0]
    assert (failed.tier, failed.candidate, failed.candidate_f1, failed.confidence) == ("none", "", 0.0, None)
