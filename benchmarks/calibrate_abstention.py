"""Fit the "not in the corpus" decision on calibration data only.

    python benchmarks/calibrate_abstention.py [--xquad-questions 150]

Calibration data (never the sets we report on):
- eval/abstention_calibration.jsonl: 30 answerable and 40 unanswerable questions over the
  seeds, asked end to end (retrieve the top k chunks, read them);
- XQuAD-de articles 0-39 (the reader's own training articles): each sampled question read
  against its own paragraph (answerable) and against a paragraph of another article
  (unanswerable), with the e5 similarity of question and paragraph as the retrieval score.

Features: the reader's margin of the best span over its no-answer ([CLS]) score, and the
dense similarity of the best passage. A two-feature logistic regression gives the weights;
the threshold is the one that maximises balanced accuracy on the calibration data. The
script prints the constants to put into ``qa/pipeline.py`` (AbstentionPolicy defaults).
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from embeddings.chunking import Chunk  # noqa: E402
from qa.build import build_pipeline  # noqa: E402
from qa.pipeline import dense_similarity  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.types import Hit  # noqa: E402

XQUAD_DE = REPO.parent / "shared" / "data" / "xquad" / "xquad.de.json"
CALIBRATION = REPO / "eval" / "abstention_calibration.jsonl"
TUNING_ARTICLES = range(0, 40)  # the reader was trained on these; 40-47 are held out


def features(hits, evidence) -> tuple[float, float] | None:
    margin = evidence.no_answer_margin
    if margin is None or not evidence.answers or not hits:
        return None
    return margin, max(dense_similarity(h) for h in hits)


def raw_features(question: str, hits, evidence) -> dict:
    """Everything that might separate answerable from unanswerable, for analysis."""
    sims = sorted((dense_similarity(h) for h in hits), reverse=True)
    return {"question": question, "margin": evidence.no_answer_margin,
            "best_span_logit": evidence.best_span_logit, "null_logit": evidence.null_logit,
            "null_probability": evidence.null_probability,
            "p1": evidence.answers[0].score if evidence.answers else None,
            "answer": evidence.answers[0].text if evidence.answers else None,
            "sims": sims, "scores": [h.score for h in hits]}


DUMP: list[dict] = []


def seeds_examples(pipeline, k: int) -> list[tuple[tuple[float, float] | None, int]]:
    rows = [json.loads(line) for line in CALIBRATION.read_text(encoding="utf-8").splitlines() if line.strip()]
    examples = []
    for row in tqdm(rows, desc="seeds calibration questions"):
        hits = pipeline.retriever.search(row["question"], k=k)
        evidence = pipeline.reader.read_with_evidence(row["question"], hits, top_n=1)
        examples.append((features(hits, evidence), int(bool(row["answers"]))))
        DUMP.append({"source": "seeds", "label": int(bool(row["answers"])), "gold": row["answers"],
                     **raw_features(row["question"], hits, evidence)})
    return examples


def paragraph_hit(text: str, score: float, doc_id: str) -> Hit:
    return Hit(chunk=Chunk(doc_id=doc_id, start=0, end=len(text), text=text, sentences=()), score=score,
               rank=1, title=doc_id)


def xquad_examples(pipeline, n_questions: int, seed: int) -> list[tuple[tuple[float, float] | None, int]]:
    data = json.loads(XQUAD_DE.read_text(encoding="utf-8"))["data"]
    rng = random.Random(seed)
    pool = [(a, p, qa) for a in TUNING_ARTICLES for p, para in enumerate(data[a]["paragraphs"]) for qa in para["qas"]]
    sample = rng.sample(pool, min(n_questions, len(pool)))
    embedder = pipeline.retriever.embedder
    examples = []
    for a, p, qa in tqdm(sample, desc="XQuAD-de articles 0-39"):
        own = data[a]["paragraphs"][p]["context"]
        other_article = rng.choice([x for x in TUNING_ARTICLES if x != a])
        other = rng.choice(data[other_article]["paragraphs"])["context"]
        q = embedder.encode_queries([qa["question"]])[0]
        passages = embedder.encode_passages([own, other])
        for text, vector, label in ((own, passages[0], 1), (other, passages[1], 0)):
            hit = paragraph_hit(text, float(vector @ q), f"xquad-{a}")
            evidence = pipeline.reader.read_with_evidence(qa["question"], [hit], top_n=1)
            examples.append((features([hit], evidence), label))
            DUMP.append({"source": "xquad", "label": label, **raw_features(qa["question"], [hit], evidence)})
    return examples


def fit_logistic(x: np.ndarray, y: np.ndarray, *, steps: int = 5000, lr: float = 0.1, l2: float = 1e-3):
    """Plain gradient descent on standardised features; returns weights on the raw scale."""
    mean, std = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / std
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        grad = p - y
        w -= lr * (z.T @ grad / len(y) + l2 * w)
        b -= lr * grad.mean()
    raw_w = w / std
    raw_b = b - float((w * mean / std).sum())
    return raw_w, raw_b


def balanced_accuracy(conf: np.ndarray, y: np.ndarray, threshold: float) -> float:
    answered = conf >= threshold
    return 0.5 * (answered[y == 1].mean() + (~answered[y == 0]).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xquad-questions", type=int, default=150)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dump", type=Path, default=None, help="write every example's features as JSONL")
    parser.add_argument("--from-dump", type=Path, default=None,
                        help="refit from a --dump file instead of running the models again")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.from_dump is not None:
        dumped = [json.loads(line) for line in args.from_dump.read_text(encoding="utf-8").splitlines() if line.strip()]
        as_example = lambda d: (None if d["margin"] is None or not d["answer"] else (d["margin"], d["sims"][0]), d["label"])
        seeds = [as_example(d) for d in dumped if d["source"] == "seeds"]
        examples = seeds + [as_example(d) for d in dumped if d["source"] != "seeds"]
    else:
        pipeline = build_pipeline(Settings.from_env(), show_progress=False)
        seeds = seeds_examples(pipeline, args.k)
        examples = seeds + xquad_examples(pipeline, args.xquad_questions, args.seed)
    if args.dump is not None:
        args.dump.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in DUMP), encoding="utf-8")
    usable = [(f, y) for f, y in examples if f is not None]
    x = np.array([f for f, _ in usable], dtype=np.float64)
    y = np.array([y for _, y in usable], dtype=np.float64)
    w, b = fit_logistic(x, y)
    conf = 1 / (1 + np.exp(-(x @ w + b)))
    # The weights come from all examples; the threshold from the seeds calibration questions
    # alone, since they are like what users ask (XQuAD's foreign paragraphs are far easier).
    n_seeds = len([e for e in seeds if e[0] is not None])
    thresholds = np.linspace(0.05, 0.95, 91)
    best = max(thresholds, key=lambda t: balanced_accuracy(conf[:n_seeds], y[:n_seeds], t))
    print(f"examples: {len(usable)} ({int(y.sum())} answerable, {int((1 - y).sum())} unanswerable); "
          f"{len(examples) - len(usable)} without a candidate span")
    print(f"margin_weight={w[0]:.4f} retrieval_weight={w[1]:.4f} bias={b:.4f} threshold={best:.2f}")
    print(f"balanced accuracy on the calibration data: {balanced_accuracy(conf, y, best):.3f}")
    answered = conf >= best
    for name, part in (("seeds calibration", slice(0, n_seeds)), ("XQuAD-de 0-39", slice(n_seeds, None))):
        a, t = answered[part], y[part]
        print(f"  {name}: answered answerable {a[t == 1].mean():.3f}, abstained on unanswerable {(~a[t == 0]).mean():.3f}")
    print(f"answered answerable: {answered[y == 1].mean():.3f}; abstained on unanswerable: {(~answered[y == 0]).mean():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
