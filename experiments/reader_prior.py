"""Ranking answers across passages (separate reading, no-answer margin, retrieval prior): a tuning sweep on XQuAD 0-39, then held-out measurements.

    nice python -m experiments.reader_prior tune [--every 4]   # sweep on the tuning split
    nice python -m experiments.reader_prior measure            # held-out sets, old vs new reader
    python -m experiments.reader_prior report                  # rebuild the BENCHMARKS.md section

A concluded experiment: it chose the reader's ranking defaults (separate reading, dense prior 40,
null weight 1; qa/reading/reader.py), and its section is the record of that choice.

End to end, the reader reads the top k=3 chunks joined into one context, and one softmax over
every span lets a distractor passage win. ``tune`` retrieves and reads each sampled question
of XQuAD articles 0-39 (German questions, and English questions over the German paragraphs)
once jointly and once passage by passage, caches the raw span logits, and replays every
variant (prior form x weight, reading only the top passage when retrieval is confident) on
that cache with the pipeline's abstention policy: exactly what ``QAPipeline.ask`` would answer.
``measure`` asks the held-out sets through two real pipelines, the old reader and the chosen
one, question by question in alternating order, so EM/F1 and latency come from the code path
the product runs. Nothing is tuned on the held-out sets. Caches and results: runs/reader_prior/.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pickle
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import update_section  # noqa: E402
from embeddings.atomic import atomic_file  # noqa: E402

SECTION = "Reader: ranking answers across passages"
OUT = REPO / "runs" / "reader_prior"
DATA = Path(os.environ.get("QA_EVAL_DATA", REPO.parent / "shared" / "data"))
XQUAD_DE = DATA / "xquad" / "xquad.de.json"
XQUAD_EN = DATA / "xquad" / "xquad.en.json"
MLQA_DEV = DATA / "mlqa_de_de_dev" / "mlqa.dev.de-de.jsonl"
SEEDS_DEV = REPO / "eval" / "seeds_dev.jsonl"
K = 3
MAX_ANSWER_TOKENS = 30

log = logging.getLogger("reader_prior")


# -- loading --------------------------------------------------------------------------------

def load_models(settings):
    """The reader model every variant shares, as the original joint reader."""
    from qa.reading.loading import load_reader

    return load_reader(settings.reader_model, cache_dir=settings.cache_dir, mode="joint",
                       passage_prior=0.0, null_weight=0.0)


def plain_hits(hits):
    """Hits without MappingProxyType metadata, so they pickle."""
    return [dataclasses.replace(h, metadata=dict(h.metadata)) for h in hits]


def tuning_questions(every: int):
    """Every ``every``-th question of XQuAD 0-39, asked in German and in English over the German paragraphs."""
    from qa.evaluation.datasets import load_dataset, parse_articles

    articles = parse_articles("0-39")
    de = load_dataset(XQUAD_DE, articles=articles)
    en = load_dataset(XQUAD_DE, articles=articles, questions_from=XQUAD_EN)
    return de.documents, {"de": de.questions[::every], "en": en.questions[::every]}


# -- tuning: collect raw candidates once, replay variants ------------------------------------

def collect(reader_joint, reader_separate, retriever, questions, *, gold: bool) -> list[dict]:
    """Per question: the hits, and the raw candidates of a joint and of a separate read."""
    from tqdm import tqdm

    from qa.evaluation.runner import gold_passage_hit

    records = []
    for q in tqdm(questions, unit="q", disable=None):
        started = time.perf_counter()
        hits = retriever.search(q.question, k=K)
        record = {"id": q.id, "question": q.question, "answers": list(q.answers or ()),
                  "gold_doc": q.context_id, "hits": plain_hits(hits),
                  "retrieval_ms": (time.perf_counter() - started) * 1000}
        cut = reader_joint._cut_question(q.question.strip())
        for name, reader in (("joint", reader_joint), ("separate", reader_separate)):
            started = time.perf_counter()
            record[name] = reader._score_contexts(cut, reader._contexts(list(hits)), MAX_ANSWER_TOKENS)
            record[name + "_ms"] = (time.perf_counter() - started) * 1000
        if gold:
            answers = reader_joint.read(q.question, [gold_passage_hit(q)], top_n=1)
            record["gold_prediction"] = answers[0].text if answers else ""
        records.append(record)
    return records


@dataclass(frozen=True)
class Variant:
    """One way to rank a question's candidates: which read, which hits, what offsets."""

    name: str
    family: str
    mode: str                                  # "joint" or "separate": whose candidates
    offsets: Callable[[list, list], np.ndarray] | None = None   # (hits, candidates) -> per candidate
    top_only_gap: float | None = None          # read only hit 1 when its dense score leads by this


def dense(hit) -> float:
    return hit.score if hit.dense_score is None else hit.dense_score


def dense_gap(hits) -> float:
    """How far the rank-1 hit's dense cosine leads the best other hit's (inf with one hit)."""
    if len(hits) < 2:
        return float("inf")
    return dense(hits[0]) - max(dense(h) for h in hits[1:])


def per_hit(values: Callable[[list], np.ndarray]) -> Callable[[list, list], np.ndarray]:
    def offsets(hits, candidates):
        v = values(hits)
        return np.array([v[c.hit_index] for c in candidates], dtype=np.float64)
    return offsets


def dense_relative(weight: float):
    return per_hit(lambda hits: weight * (np.array([dense(h) for h in hits]) - max(dense(h) for h in hits)))


def fused_relative(weight: float):
    return per_hit(lambda hits: weight * (np.array([h.score for h in hits]) - max(h.score for h in hits)))


def rank_penalty(c: float, *, linear: bool = False):
    return per_hit(lambda hits: -c * np.array([(h.rank - 1) if linear else float(h.rank > 1) for h in hits]))


def null_normalised(weight: float):
    """Subtract ``weight`` x the no-answer logit of the candidate's own window (separate reading)."""
    return lambda hits, candidates: -weight * np.array([c.null_logit for c in candidates])


def combined(*parts):
    return lambda hits, candidates: sum(part(hits, candidates) for part in parts)


DENSE_WEIGHTS = (5, 10, 20, 40, 80, 160)
FUSED_WEIGHTS = (0.5, 1, 2, 4, 8)
RANK_PENALTIES = (0.5, 1, 2, 4, 8)
TOP_ONLY_GAPS = (0.0, 0.01, 0.02, 0.03, 0.05)


def variants() -> list[Variant]:
    out = [Variant("joint (current)", "baseline", "joint"),
           Variant("separate", "baseline", "separate"),
           Variant("top passage only", "top only", "separate", top_only_gap=-1.0)]
    for mode in ("joint", "separate"):
        out += [Variant(f"{mode}, dense prior w={w}", "dense", mode, dense_relative(w)) for w in DENSE_WEIGHTS]
        out += [Variant(f"{mode}, fused-score prior w={w}", "fused", mode, fused_relative(w)) for w in FUSED_WEIGHTS]
        out += [Variant(f"{mode}, rank penalty c={c}", "rank", mode, rank_penalty(c)) for c in RANK_PENALTIES]
        out += [Variant(f"{mode}, rank penalty c={c} x (rank-1)", "rank linear", mode, rank_penalty(c, linear=True))
                for c in RANK_PENALTIES[:3]]
    out += [Variant(f"separate, span - {w} x window null", "null", "separate", null_normalised(w))
            for w in (0.5, 1.0)]
    out += [Variant(f"joint, fused-score prior w={w}", "fused", "joint", fused_relative(w)) for w in (16, 32)]
    out += [Variant(f"separate, fused-score prior w={w}", "fused", "separate", fused_relative(w)) for w in (16, 32)]
    for null in (0.5, 1.0):
        out += [Variant(f"separate, fused-score prior w={w}, span - {null} x window null", "fused+null",
                        "separate", combined(fused_relative(w), null_normalised(null))) for w in (2, 4, 8, 16)]
        out += [Variant(f"separate, dense prior w={w}, span - {null} x window null", "dense+null",
                        "separate", combined(dense_relative(w), null_normalised(null))) for w in (20, 40, 80)]
    for mode in ("joint", "separate"):
        out += [Variant(f"{mode}, top only if dense gap > {g}", "gate", mode, top_only_gap=g) for g in TOP_ONLY_GAPS[1:]]
    return out


def replay(reader, record: dict, variant: Variant, policy) -> tuple[str, bool]:
    """(prediction, abstained) that QAPipeline.ask would give under ``variant``."""
    hits = record["hits"]
    candidates, null_logit, windows = record[variant.mode]
    read_hits = hits
    if variant.top_only_gap is not None and dense_gap(hits) > variant.top_only_gap:
        # Reading hit 1 alone = the separate read's candidates from hit 1 (same windows).
        candidates, _, _ = record["separate"]
        candidates = [c for c in candidates if c.hit_index == 0]
        null_logit = min((c.null_logit for c in candidates), default=None)
        read_hits = hits[:1]
    offsets = None if variant.offsets is None or not candidates else variant.offsets(read_hits, candidates)
    from qa.answering.question import detect_language
    from qa.answering.confidence import SUPPORT_CANDIDATES, evidence_features
    from qa.reading.reader import asks_for_one_name

    evidence = reader._evidence(list(read_hits), candidates, null_logit, windows, top_n=SUPPORT_CANDIDATES,
                                offsets=offsets, one_name=asks_for_one_name(record["question"]))
    features = evidence_features(record["question"], hits, evidence,
                                 english=detect_language(record["question"]) == "en")
    confidence = 0.0 if features is None else policy.probability(features)
    abstained = policy.tier(confidence, has_answer=features is not None) == "none"
    return ("" if abstained else evidence.answers[0].text), abstained


def score(records: list[dict], predictions: list[tuple[str, bool]]) -> dict:
    from qa.evaluation.scoring import score_answer

    scores = [score_answer(p, r["answers"], abstained=a) for r, (p, a) in zip(records, predictions)]
    return {"n": len(scores), "em": 100 * float(np.mean([s.em for s in scores])),
            "f1": 100 * float(np.mean([s.f1 for s in scores])),
            "abstained": 100 * float(np.mean([a for _, a in predictions]))}


def tune(args) -> int:
    from qa.answering.confidence import ConfidencePolicy
    from qa.reading.reader import TransformersReader
    from qa.settings import Settings
    from qa.system import QASystem

    OUT.mkdir(parents=True, exist_ok=True)
    cache = OUT / f"tune-every{args.every}.pkl"
    settings = Settings.from_env()
    reader = load_models(settings)
    if cache.exists():
        data = pickle.loads(cache.read_bytes())
    else:
        documents, questions = tuning_questions(args.every)
        retriever = QASystem.load(settings, parts="retrieval", documents=documents).retriever
        separate = TransformersReader(reader.model, reader.tokenizer, name=reader.name, mode="separate",
                                     passage_prior=0.0, null_weight=0.0)
        data = {lang: collect(reader, separate, retriever, qs, gold=True) for lang, qs in questions.items()}
        with atomic_file(cache) as tmp:
            tmp.write_bytes(pickle.dumps(data))
    policy = ConfidencePolicy()
    from qa.evaluation.scoring import score_answer

    rows = []
    for variant in variants():
        row = {"variant": variant.name, "family": variant.family}
        for lang, records in data.items():
            row[lang] = score(records, [replay(reader, r, variant, policy) for r in records])
        row["all"] = {"f1": float(np.mean([row[lang]["f1"] for lang in data])),
                      "em": float(np.mean([row[lang]["em"] for lang in data]))}
        rows.append(row)
    gold = {}
    for lang, records in data.items():
        s = [score_answer(r["gold_prediction"], r["answers"], abstained=False) for r in records]
        gold[lang] = {"em": 100 * float(np.mean([x.em for x in s])), "f1": 100 * float(np.mean([x.f1 for x in s])),
                      "recall@1": 100 * float(np.mean([r["hits"][0].chunk.doc_id == r["gold_doc"] for r in records]))}
    reader_ms = {mode: float(np.median([r[mode + "_ms"] for records in data.values() for r in records]))
                 for mode in ("joint", "separate")}
    result = {"every": args.every, "n": {lang: len(r) for lang, r in data.items()}, "rows": rows, "gold": gold,
              "reader_ms_p50": reader_ms}
    (OUT / "tune.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print_tuning(result)
    return 0


def print_tuning(result: dict) -> None:
    print(f"tuning split: every {result['every']}th question of XQuAD 0-39, n = {result['n']}")
    for lang, g in result["gold"].items():
        print(f"  {lang}: reader on the gold paragraph EM {g['em']:.1f} F1 {g['f1']:.1f}; retrieval R@1 {g['recall@1']:.1f}")
    print(f"{'variant':50s} {'de EM/F1':>12s} {'en EM/F1':>12s} {'mean F1':>8s} {'abst de/en':>11s}")
    for row in result["rows"]:
        print(f"{row['variant']:50s} {row['de']['em']:5.1f}/{row['de']['f1']:5.1f} "
              f"{row['en']['em']:5.1f}/{row['en']['f1']:5.1f} {row['all']['f1']:8.1f} "
              f"{row['de']['abstained']:5.1f}/{row['en']['abstained']:4.1f}")


# -- measuring: held-out sets through two real pipelines ---------------------------------------

HELD_OUT = (
    ("xquad-de", "XQuAD-de 40-47, de questions, e2e over 240 paragraphs"),
    ("xquad-en-de", "XQuAD 40-47, en questions over de paragraphs, e2e"),
    ("mlqa-de", "MLQA de-de dev, e2e over its 456 paragraphs"),
    ("seeds-dev", "seeds_dev, e2e over the seeds index"),
)


def held_out_set(name: str, settings):
    """(questions, retriever) of one held-out set, built as ``qa eval`` builds them."""
    from qa.evaluation.datasets import load_dataset, parse_articles
    from qa.system import QASystem

    if name == "seeds-dev":
        dataset = load_dataset(SEEDS_DEV)
        return dataset.questions, QASystem.load(settings, parts="retrieval", show_progress=False).retriever
    if name == "mlqa-de":
        dataset = load_dataset(MLQA_DEV)
    else:
        dataset = load_dataset(XQUAD_DE, articles=parse_articles("40-47"),
                               questions_from=XQUAD_EN if name == "xquad-en-de" else None)
    return dataset.questions, QASystem.load(settings, parts="retrieval", documents=dataset.documents).retriever


def measure(args) -> int:
    """Old reader (passage_prior=0) against the reader's defaults, question by question."""
    from tqdm import tqdm

    from qa.evaluation.scoring import score_answer
    from qa.answering.pipeline import QAPipeline
    from qa.settings import Settings

    settings = Settings.from_env()
    base = load_models(settings)
    readers = {"old": recording_reader(base, mode="joint", passage_prior=0.0, null_weight=0.0),
               "new": recording_reader(base)}
    if readers["new"].mode != "separate":
        raise SystemExit("the held-out replay assumes the new default reads passages separately")
    log.info("new reader: %r", readers["new"])
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "measure.json"
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    wanted = [name for name, _ in HELD_OUT if args.only is None or name in args.only.split(",")]
    for name in wanted:
        questions, retriever = held_out_set(name, settings)
        if args.limit is not None:
            questions = questions[:args.limit]
        pipelines = {key: QAPipeline(retriever, reader) for key, reader in readers.items()}
        rows = {key: [] for key in pipelines}
        records = []
        for i, q in enumerate(tqdm(questions, desc=name, unit="q", disable=None)):
            order = ("old", "new") if i % 2 == 0 else ("new", "old")   # same load for both
            for key in order:
                started = time.perf_counter()
                response = pipelines[key].ask(q.question, k=K, top_n=1)
                ms = (time.perf_counter() - started) * 1000
                abstained = bool(response.abstained or not response.answers)
                prediction = "" if abstained else response.answers[0].text
                s = score_answer(prediction, q.answers or (), abstained=abstained)
                rows[key].append({"id": q.id, "prediction": prediction, "abstained": abstained,
                                  "em": s.em, "f1": s.f1, "em_de": s.em_de, "f1_de": s.f1_de, "ms": ms,
                                  "passage_rank": None if abstained else response.answers[0].hit.rank})
            records.append({"question": q.question, "answers": list(q.answers or ()),
                            "hits": plain_hits(response.hits),
                            "joint": readers["old"].last, "separate": readers["new"].last})
        policy = pipelines["new"].confidence
        results[name] = {"n": len(questions), "limit": args.limit,
                         **{key: summary(r) for key, r in rows.items()},
                         "replay": [{"variant": v.name, **score(records, [replay(base, r, v, policy) for r in records])}
                                    for v in variants()]}
        (OUT / f"measure-{name}.jsonl").write_text(
            "".join(json.dumps({"old": a, "new": b}, ensure_ascii=False) + "\n"
                    for a, b in zip(rows["old"], rows["new"])), encoding="utf-8")
        print_measure({name: results[name]})
        results["_new_reader"] = repr(readers["new"])
        with atomic_file(path) as tmp:
            tmp.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


def recording_reader(base, **kwargs):
    """A TransformersReader on ``base``'s model that keeps its last raw candidates (``.last``),
    so the held-out runs can also be replayed under every variant of the sweep."""
    from qa.reading.reader import TransformersReader

    class RecordingReader(TransformersReader):
        last = None

        def _candidates(self, *args, **kw):   # one question's candidates, null logit, windows
            self.last = super()._candidates(*args, **kw)
            return self.last

    return RecordingReader(base.model, base.tokenizer, name=base.name, **kwargs)


def summary(rows: list[dict]) -> dict:
    answered = [r for r in rows if not r["abstained"]]
    return {
        "em": 100 * float(np.mean([r["em"] for r in rows])), "f1": 100 * float(np.mean([r["f1"] for r in rows])),
        "em_de": 100 * float(np.mean([r["em_de"] for r in rows])),
        "f1_de": 100 * float(np.mean([r["f1_de"] for r in rows])),
        "abstained": 100 * float(np.mean([r["abstained"] for r in rows])),
        "from_rank1": 100 * float(np.mean([r["passage_rank"] == 1 for r in answered])) if answered else None,
        "p50_ms": float(np.percentile([r["ms"] for r in rows], 50)),
        "p95_ms": float(np.percentile([r["ms"] for r in rows], 95)),
    }


def print_measure(results: dict) -> None:
    for name, r in results.items():
        if name.startswith("_"):
            continue
        for key in ("old", "new"):
            m = r[key]
            print(f"{name:12s} {key}: n={r['n']} EM {m['em']:.1f} F1 {m['f1']:.1f} (de norm {m['em_de']:.1f}/"
                  f"{m['f1_de']:.1f}) abstained {m['abstained']:.1f}% from rank 1 {m['from_rank1']:.1f}% "
                  f"p50 {m['p50_ms']:.0f} ms p95 {m['p95_ms']:.0f} ms")


# -- report -----------------------------------------------------------------------------------

COMMANDS = ("nice python -m experiments.reader_prior tune --every 4",
            "nice python -m experiments.reader_prior measure",
            "python -m experiments.reader_prior report")


def report(args) -> int:
    tuned = json.loads((OUT / "tune.json").read_text(encoding="utf-8"))
    measured = json.loads((OUT / "measure.json").read_text(encoding="utf-8"))
    path = update_section(SECTION, render(tuned, measured))
    print(f"updated the section {SECTION!r} of {path}")
    return 0


def _sweep_table(tuned: dict) -> str:
    lines = ["| variant | de EM / F1 | en EM / F1 | mean F1 | abstained de / en % |", "|---|---|---|---|---|"]
    for row in tuned["rows"]:
        lines.append(f"| {row['variant']} | {row['de']['em']:.1f} / {row['de']['f1']:.1f} | "
                     f"{row['en']['em']:.1f} / {row['en']['f1']:.1f} | {row['all']['f1']:.1f} | "
                     f"{row['de']['abstained']:.1f} / {row['en']['abstained']:.1f} |")
    return "\n".join(lines)


def _held_out_table(measured: dict) -> str:
    lines = ["| set | n | reader | EM / F1 | EM / F1 (de) | abstained % | answer from rank-1 passage % | p50 / p95 ms |",
             "|---|---|---|---|---|---|---|---|"]
    for name, label in HELD_OUT:
        if name not in measured:
            continue
        r = measured[name]
        for key, what in (("old", "old: joint, no prior"), ("new", "new default")):
            m = r[key]
            lines.append(f"| {label} | {r['n']} | {what} | {m['em']:.1f} / {m['f1']:.1f} | "
                         f"{m['em_de']:.1f} / {m['f1_de']:.1f} | {m['abstained']:.1f} | "
                         f"{m['from_rank1']:.1f} | {m['p50_ms']:.0f} / {m['p95_ms']:.0f} |")
    return "\n".join(lines)


CHOSEN = "separate, dense prior w=40, span - 1.0 x window null"
ABLATION = ("joint (current)", "joint, dense prior w=40", "separate", "top passage only",
            "separate, span - 1.0 x window null", "separate, dense prior w=40", CHOSEN,
            "separate, fused-score prior w=4, span - 0.5 x window null", "joint, top only if dense gap > 0.01")


def _ablation_table(measured: dict) -> str:
    names = [n for n, _ in HELD_OUT if n in measured]
    lines = ["| variant | " + " | ".join(f"{n} EM / F1" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for variant in ABLATION:
        cells = []
        for n in names:
            row = next(r for r in measured[n]["replay"] if r["variant"] == variant)
            cells.append(f"{row['em']:.1f} / {row['f1']:.1f}")
        mark = " (chosen)" if variant == CHOSEN else ""
        lines.append(f"| {variant}{mark} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _delta(measured: dict, name: str) -> str:
    return f"{measured[name]['old']['f1']:.1f} -> {measured[name]['new']['f1']:.1f}"


def render(tuned: dict, measured: dict) -> str:
    gold = tuned["gold"]
    rows = {r["variant"]: r for r in tuned["rows"]}
    base, chosen = rows["joint (current)"], rows[CHOSEN]
    return f"""Commands: `{COMMANDS[0]}` (tuning sweep), `{COMMANDS[1]}` (held-out sets), `{COMMANDS[2]}`
(this section). Machine: {platform.machine()}, {os.cpu_count()} CPU cores shared with other people's jobs, so
latencies are indicative; old and new reader were timed question by question in alternating order.

End to end the reader reads the top k=3 retrieved chunks (hybrid retrieval). It used to join
them into one context and take the best span of one softmax over all spans, so a distractor
passage often won. Tested: a retrieval prior added to each span's logit (`w x (hit's dense
cosine - best hit's)`, the same with the fused retrieval score, a rank penalty), reading each
passage on its own ("separate"), ranking spans by their margin over the no-answer ([CLS]) logit
of their own window ("span - x window null"), and reading only the top passage (always, or when
its dense cosine leads the next by more than a gap).

**Tuning** (the only split any constant was chosen on): every {tuned['every']}th question of
XQuAD articles 0-39, {tuned['n']['de']} German questions and the same {tuned['n']['en']} in English over the
German paragraphs, end to end over all 240 paragraphs. Each question was retrieved and read once
jointly and once separately, and every variant replayed on those raw logits with the pipeline's
abstention policy (the replay reproduces `QAPipeline.ask` exactly; checked against the real
pipelines on the held-out runs). EM / F1 in SQuAD normalisation; an abstention scores 0.

Chosen: **separate reading, span - 1.0 x window null, dense prior w = 40** (mean F1 of de and en
{base['all']['f1']:.1f} -> {chosen['all']['f1']:.1f}). Its neighbours (w 20-80, null weight 0.5-1, the
fused-score prior w 2-8) are within 1 F1 of it, well inside the sampling noise of 254 questions per
language; of those, the dense cosine was preferred because its scale does not depend on the retrieval
mode (fused scores are min-max normalised in hybrid mode, raw in BM25 mode, tiny for RRF) and w = 40
sits in the middle of the plateau. Reading only the top passage, gated or not, lost to the prior.

Artifact check: the reader was trained on these articles. On this sample it scores F1
{gold['de']['f1']:.1f} (de) / {gold['en']['f1']:.1f} (en) on the gold paragraph, against 56.6 / 49.8 on the held-out
articles, so the tuning figures above are far higher than anything held out. The held-out rows below
are the test of whether the gain is real; nothing was chosen on them.

<details><summary>The whole sweep (tuning split)</summary>

{_sweep_table(tuned)}

</details>

**Held out** (measured once, after the choice): the old reader (`mode="joint", passage_prior=0,
null_weight=0`) and the new defaults, each through its own `QAPipeline` with the same retriever and
abstention policy, k=3, top answer scored. Same sets and commands as the `qa eval` section.

{_held_out_table(measured)}

The gain holds on every held-out set (F1, old -> new): XQuAD-de {_delta(measured, "xquad-de")}, English over
German {_delta(measured, "xquad-en-de")}, MLQA-de dev {_delta(measured, "mlqa-de")}, seeds {_delta(measured, "seeds-dev")}. On XQuAD-de it is about the
tuning gain (de {base['de']['f1']:.1f} -> {chosen['de']['f1']:.1f} there); on English questions and on MLQA (retrieval
R@1 68.6 % in the qa eval section) it is smaller. The gap to the gold paragraph (XQuAD-de 56.6, MLQA-de 46.8 F1)
shrinks but stays. These held-out runs used the abstention policy of their time, fitted on
joint-reading evidence: with the new reader it wrongly abstained more often on English questions
({measured["xquad-en-de"]["old"]["abstained"]:.1f} -> {measured["xquad-en-de"]["new"]["abstained"]:.1f} %). The policy has since been refitted on the
new reader's evidence, with more features (section "Abstention"), and the current end-to-end
figures, abstentions included, are in the `qa eval` section; this table is kept as the record of
the reader choice and is not rerun with each policy. Latency: separate reading runs three windows of
one chunk each instead of about two 384-token windows; on the tuning run the reader alone took
p50 {tuned["reader_ms_p50"]["joint"]:.0f} ms jointly and {tuned["reader_ms_p50"]["separate"]:.0f} ms separately (same questions, same load). End to end the
difference is lost in the load of the shared machine (p50 above: no consistent direction).

Replay of the main variants on the same held-out questions (from the raw logits the two runs
recorded; shown to explain the result, not used for any choice):

{_ablation_table(measured)}

What changed for callers: `TransformersReader(..., mode="separate", passage_prior=40.0, null_weight=1.0)`
are the new defaults (`load_reader` too; settings `reader_mode`, `passage_prior`, `null_weight`,
env `QA_READER_MODE`, `QA_PASSAGE_PRIOR`, `QA_NULL_WEIGHT`, passed on by `qa.system.build_reader`).
`mode="joint", passage_prior=0, null_weight=0` is exactly the old reader. `ReaderEvidence.best_span_logit`
is the raw logit of the top-ranked span, `span_logits` and `null_logit(s)` stay raw; `Answer.score` is
the softmax over the ranking logits (raw + margin + prior terms), so it is still comparable across
passages and orders the answers.
"""


# -- CLI ----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="phase", required=True)
    t = sub.add_parser("tune", help="sweep on the tuning split (XQuAD 0-39)")
    t.add_argument("--every", type=int, default=4, help="every N-th question of XQuAD 0-39 (default 4)")
    m = sub.add_parser("measure", help="held-out sets: old reader vs the reader's defaults")
    m.add_argument("--only", default=None, help="comma-separated: " + ",".join(n for n, _ in HELD_OUT))
    m.add_argument("--limit", type=int, default=None, help="first N questions per set (smoke run)")
    sub.add_parser("report", help="rebuild the docs/BENCHMARKS.md section from runs/reader_prior/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import torch

    torch.manual_seed(0)
    return {"tune": tune, "measure": measure, "report": report}[args.phase](args)


if __name__ == "__main__":
    sys.exit(main())
