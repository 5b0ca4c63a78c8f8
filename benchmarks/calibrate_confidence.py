"""Fit the answer confidence and its tiers (qa.answering.confidence), then measure them on held-out sets.

    python benchmarks/calibrate_confidence.py collect [PART ...]               # read every set once
    python benchmarks/calibrate_confidence.py fit                              # print the constants
    python benchmarks/calibrate_confidence.py report                           # held-out figures,
                                                                               # written to docs/BENCHMARKS.md

``collect`` reads each question once with the shipped retriever and reader (k = Settings.k) and
writes one row per question to runs/confidence/PART.jsonl: its set, split (fit / holdout /
measure), language and style, whether it is answerable, the reader's top candidate, whether
that candidate is right (F1 >= 0.5 with German normalisation against any gold answer; a
candidate for an unanswerable question is wrong), the features of qa.answering.confidence, and the
confidence of the policy shipped before this one (``legacy_confidence``: margin, best cosine,
the share of capitalised words the passage does not mention, an English constant), so the two
can be compared on the same reads.

Rows (what the fit may see, and what it may not):
- fit: XQuAD articles 0-39 (German paragraphs; German questions and the same in English),
  each sampled question read three ways: the top k of the articles' paragraphs by e5 cosine
  (with its gold paragraph: answerable), the top k with the gold paragraph taken out
  (unanswerable, on topic), and the top k with the gold paragraph's answer sentence cut out
  (unanswerable, on topic, the paragraph itself still there), and the same questions with a
  name or number swapped (unanswerable, on topic); eval/abstention_calibration.jsonl;
  the ``fit`` rows of eval/seeds_paraphrase.jsonl and eval/gnad_dev.jsonl.
- holdout (reported): the ``holdout`` rows of those two sets, eval/seeds_holdout.jsonl, XQuAD
  articles 40-47 read the first two ways.
- measure (reported, never fitted): eval/seeds_dev.jsonl.

``fit`` trains a logistic regression of "right" on the features (standardised, L2), weighting
the users'-style sets (seeds, paraphrase, 10kGNAD fit rows) like the XQuAD rows in total. It
compares feature sets (and scikit-learn's gradient boosting, when installed) by 5-fold
cross-validation on the fit rows, scored on the users'-style fit rows, and keeps the set with
the best area (the smallest within 0.5). The two cuts come from the out-of-fold confidences of
the users'-style fit rows: ``none_below`` the highest that keeps at least 97 % of answerable
questions out of ``none``, ``confident_from`` the lowest whose confident answers are at least
88 % right.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.report import positive_int, update_section  # noqa: E402
from embeddings.atomic import atomic_file  # noqa: E402
from embeddings.chunking import Chunk  # noqa: E402
from embeddings.sentences import split_sentences  # noqa: E402
from qa.answering.question import detect_language  # noqa: E402
from qa.answering.confidence import (FEATURE_NAMES, SUPPORT_CANDIDATES, ConfidenceFeatures,  # noqa: E402
                           ConfidencePolicy, evidence_features)
from qa.evaluation.metrics import area_under_curve, coverage_at_precision, risk_coverage_curve  # noqa: E402
from qa.evaluation.scoring import score_answer  # noqa: E402
from qa.types import Hit  # noqa: E402

XQUAD = REPO.parent / "shared" / "data" / "xquad"
EVAL = REPO / "eval"
ROWS = REPO / "runs" / "confidence"
FIT_ARTICLES = range(0, 40)
HELD_OUT_ARTICLES = range(40, 48)
SECTION = "Confidence and tiers"
USER_SETS = ("abstention_calibration", "seeds_paraphrase", "gnad_dev")


# -- the policy shipped before: kept only to compare against ---------------------------------

# AbstentionPolicy as shipped until the tiers (19006fc): the same logistic over margin, best
# cosine, the share of capitalised words and numbers the answer's passage does not mention
# (training.train_reader.key_terms, the rule it used) and an English constant; answers at 0.45.
LEGACY = ConfidencePolicy(weights={"margin": 0.1575, "retrieval": 30.1092, "unmentioned": -4.108,
                                   "english": 0.55}, bias=-26.7804, none_below=0.45, confident_from=0.45)


def _legacy_unmentioned(question: str, passage: str, english: bool) -> float:
    from training.train_reader import key_terms, mentions

    terms = key_terms(question)
    if not terms or english:
        return 0.0
    return sum(not mentions(passage, t) for t in terms) / len(terms)


def legacy_confidence(question: str, evidence, features: ConfidenceFeatures | None) -> float:
    """The confidence of the AbstentionPolicy shipped until the tiers, from the same read."""
    if features is None:
        return 0.0
    unmentioned = _legacy_unmentioned(question, evidence.answers[0].hit.chunk.text, bool(features.english))
    return LEGACY.probability(replace(features, unmentioned=unmentioned))


# -- reading ---------------------------------------------------------------------------------

def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_row(*, source: str, split: str, item_id: str, question: str, answers: list[str], lang: str,
             style: str, hits, evidence) -> dict:
    english = detect_language(question) == "en"
    features = evidence_features(question, hits, evidence, english=english)
    candidate = evidence.answers[0].text if evidence.answers else ""
    correct = bool(answers) and bool(candidate) and score_answer(
        candidate, answers, abstained=False).f1_de >= 0.5
    return {"source": source, "split": split, "id": item_id, "question": question, "lang": lang,
            "style": style, "answerable": bool(answers), "answers": answers, "candidate": candidate,
            "correct": correct,
            "features": None if features is None else {n: getattr(features, n) for n in FEATURE_NAMES},
            "legacy": legacy_confidence(question, evidence, features)}


def set_rows(pipeline, path: Path, *, k: int, split_of) -> list[dict]:
    rows = []
    for item in tqdm(read_jsonl(path), desc=path.name):
        split = split_of(item)
        if split is None:
            continue
        hits = pipeline.retriever.search(item["question"], k=k)
        evidence = pipeline.reader.read_with_evidence(item["question"], hits, top_n=SUPPORT_CANDIDATES)
        style = item.get("style") or ("paraphrase" if item.get("paraphrase") else
                                      "unanswerable" if not item["answers"] else
                                      "english" if item.get("lang") == "en" else "direct")
        rows.append(make_row(source=path.stem, split=split, item_id=item["id"], question=item["question"],
                             answers=item["answers"], lang=item.get("lang", ""), style=style,
                             hits=hits, evidence=evidence))
    return rows


@dataclass(frozen=True)
class XQuadPool:
    """XQuAD articles as retrievable German paragraphs: chunks, their e5 vectors, and every
    (paragraph index, German question) pair, with the English wording of each question id."""

    articles: range
    chunks: list[Chunk]
    vectors: np.ndarray
    questions: list[tuple[int, dict]]
    english: dict[str, str]


def xquad_pool(embedder, articles: range) -> XQuadPool:
    german = json.loads((XQUAD / "xquad.de.json").read_text(encoding="utf-8"))["data"]
    english = json.loads((XQUAD / "xquad.en.json").read_text(encoding="utf-8"))["data"]
    english_questions = {qa["id"]: qa["question"] for article in english
                         for paragraph in article["paragraphs"] for qa in paragraph["qas"]}
    paragraphs = [(a, p, german[a]["paragraphs"][p]["context"])
                  for a in articles for p in range(len(german[a]["paragraphs"]))]
    chunks = [Chunk(doc_id=f"xquad-{a}-{p}", start=0, end=len(text), text=text,
                    sentences=tuple(split_sentences(text))) for a, p, text in paragraphs]
    vectors = embedder.encode_passages([c.text for c in chunks], show_progress=True)
    questions = [(j, qa) for j, (a, p, _) in enumerate(paragraphs) for qa in german[a]["paragraphs"][p]["qas"]]
    return XQuadPool(articles, chunks, vectors, questions, english_questions)


def xquad_rows(pipeline, pool: XQuadPool, *, n_questions: int, k: int, seed: int, split: str,
               cut_sentence: bool) -> list[dict]:
    chunks, vectors, english_questions = pool.chunks, pool.vectors, pool.english
    embedder = pipeline.retriever.embedder
    rows = []
    sample = random.Random(seed).sample(pool.questions, min(n_questions, len(pool.questions)))
    for j, qa in tqdm(sample, desc=f"XQuAD {pool.articles.start}-{pool.articles.stop - 1}"):
        answers = sorted({a["text"] for a in qa["answers"]})
        for lang, question in (("de", qa["question"]), ("en", english_questions.get(qa["id"]))):
            if not question:
                continue
            similarities = vectors @ embedder.encode_queries([question])[0]
            order = [int(i) for i in np.argsort(-similarities)]
            reads = [("with gold", answers, order[:k]), ("without gold", [], [i for i in order if i != j][:k])]
            if cut_sentence:
                reads.append(("answer sentence cut", [], order[:k]))
            for how, gold, chosen in reads:
                if how != "without gold" and j not in chosen:
                    continue  # the gold paragraph was not retrieved: neither label fits
                hits = []
                for r, i in enumerate(chosen):
                    chunk = chunks[i]
                    if how == "answer sentence cut" and i == j:
                        chunk = _cut_answer_sentence(chunk, answers)
                        if chunk is None:
                            break
                    hits.append(Hit(chunk=chunk, score=float(similarities[i]), rank=r + 1,
                                    title=chunk.doc_id, dense_score=float(similarities[i])))
                else:
                    evidence = pipeline.reader.read_with_evidence(question, hits, top_n=SUPPORT_CANDIDATES)
                    rows.append(make_row(source=f"xquad {how}", split=split, item_id=qa["id"],
                                         question=question, answers=gold, lang=lang, style=how,
                                         hits=hits, evidence=evidence))
    return rows


def xquad_swap_rows(pipeline, pool: XQuadPool, *, n_questions: int, k: int, seed: int) -> list[dict]:
    """Sampled XQuAD questions (German and English) with one name or number swapped for a near
    one their paragraph does not mention (training.train_reader.swapped_term_negatives, SQuAD 2.0's
    entity swap: "Wann starb Tesla?" -> "Wann starb Newton?"), asked of the top k paragraphs
    they retrieve: unanswerable, on topic, with a tempting answer of the right type."""
    from training.train_reader import QAExample, swapped_term_negatives

    chunks, vectors, english_questions = pool.chunks, pool.vectors, pool.english
    embedder = pipeline.retriever.embedder
    sample = random.Random(seed + 1).sample(pool.questions, min(n_questions, len(pool.questions)))
    examples = []
    for j, qa in sample:
        answer = qa["answers"][0]
        for lang, question in (("de", qa["question"]), ("en", english_questions.get(qa["id"]))):
            if question:
                examples.append(QAExample(qa["id"], lang, question, chunks[j].text,
                                          answer["answer_start"], answer["text"]))
    swapped = swapped_term_negatives(examples, embedder, per_question=1, seed=seed)
    rows = []
    for example in tqdm(swapped, desc=f"XQuAD {pool.articles.start}-{pool.articles.stop - 1} swapped"):
        similarities = vectors @ embedder.encode_queries([example.question])[0]
        hits = [Hit(chunk=chunks[i], score=float(similarities[i]), rank=r + 1, title=chunks[i].doc_id,
                    dense_score=float(similarities[i]))
                for r, i in enumerate(np.argsort(-similarities)[:k])]
        evidence = pipeline.reader.read_with_evidence(example.question, hits, top_n=SUPPORT_CANDIDATES)
        rows.append(make_row(source="xquad name swapped", split="fit", item_id=example.qid.split("#")[0],
                             question=example.question, answers=[], lang=example.language,
                             style="name swapped", hits=hits, evidence=evidence))
    return rows


def _cut_answer_sentence(chunk: Chunk, answers: list[str]) -> Chunk | None:
    """The paragraph without the sentences that hold an answer (None when one still does, or
    too little is left)."""
    kept = [(s, e) for s, e in chunk.sentences if not any(a in chunk.text[s:e] for a in answers)]
    text = " ".join(chunk.text[s:e] for s, e in kept)
    if len(text) < 100 or any(a in text for a in answers):
        return None
    return Chunk(doc_id=chunk.doc_id, start=0, end=len(text), text=text,
                 sentences=tuple(split_sentences(text)))


PARTS = ("calibration", "seeds_dev", "seeds_holdout", "paraphrase", "gnad", "xquad_fit", "xquad_swap",
         "xquad_holdout")


def collect(args) -> int:
    """Read the chosen parts and write each to its own file in the rows folder."""
    from qa.answering.pipeline import QAPipeline
    from qa.settings import Settings
    from qa.system import QASystem

    settings = Settings.from_env()
    k = settings.k
    system = QASystem.load(settings, show_progress=False)
    seeds = system.pipeline
    by_split = lambda item: item.get("split")  # noqa: E731
    pools: dict[range, XQuadPool] = {}

    def pool(articles: range) -> XQuadPool:   # xquad_fit and xquad_swap share one embedding
        if articles not in pools:
            pools[articles] = xquad_pool(system.embedder, articles)
        return pools[articles]

    for part in args.parts:
        if part == "calibration":
            rows = set_rows(seeds, EVAL / "abstention_calibration.jsonl", k=k, split_of=lambda _: "fit")
        elif part == "seeds_dev":
            rows = set_rows(seeds, EVAL / "seeds_dev.jsonl", k=k, split_of=lambda _: "measure")
        elif part == "seeds_holdout":
            rows = set_rows(seeds, EVAL / "seeds_holdout.jsonl", k=k, split_of=lambda _: "holdout")
        elif part == "paraphrase":
            rows = set_rows(seeds, EVAL / "seeds_paraphrase.jsonl", k=k, split_of=by_split)
        elif part == "gnad":
            gnad_settings = settings.replace(corpus_dir=args.gnad_corpus, index_dir=args.gnad_index)
            retriever = QASystem.load(gnad_settings, parts="retrieval", embedder=system.embedder,
                                      allow_rebuild=False, show_progress=False).retriever
            rows = set_rows(QAPipeline(retriever, seeds.reader), EVAL / "gnad_dev.jsonl", k=k,
                            split_of=by_split)
        elif part == "xquad_fit":
            rows = xquad_rows(seeds, pool(FIT_ARTICLES), n_questions=args.xquad_questions, k=k, seed=0,
                              split="fit", cut_sentence=True)
        elif part == "xquad_swap":
            rows = xquad_swap_rows(seeds, pool(FIT_ARTICLES), n_questions=args.xquad_questions, k=k, seed=0)
        else:
            rows = xquad_rows(seeds, pool(HELD_OUT_ARTICLES), n_questions=args.xquad_held_out, k=k, seed=0,
                              split="holdout", cut_sentence=False)
        target = args.rows / f"{part}.jsonl"
        with atomic_file(target) as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{part}: {len(rows)} rows -> {target}")
    return 0


def load_rows(folder: Path) -> list[dict]:
    return [row for path in sorted(folder.glob("*.jsonl")) for row in read_jsonl(path)]


# -- fitting ---------------------------------------------------------------------------------

def matrix(rows: list[dict], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[0.0 if r["features"] is None else float(r["features"][n]) for n in names]
                     for r in rows], dtype=np.float64)


def fit_logistic(x: np.ndarray, y: np.ndarray, w_rows: np.ndarray, *, l2: float = 1e-2,
                 steps: int = 300) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression by Newton steps on standardised features; weights and
    bias on the raw scale."""
    mean, std = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(z @ beta, -60, 60)))
        grad = z.T @ (w_rows * (p - y)) / w_rows.sum() + reg * beta
        hess = (z * (w_rows * p * (1 - p))[:, None]).T @ z / w_rows.sum() + np.diag(reg + 1e-9)
        delta = np.linalg.solve(hess, grad)
        beta -= delta
        if np.abs(delta).max() < 1e-8:
            break
    weights = beta[:-1] / std
    bias = float(beta[-1] - (beta[:-1] * mean / std).sum())
    return weights, bias


def row_weights(rows: list[dict]) -> np.ndarray:
    """Users'-style rows weigh as much in total as the XQuAD rows."""
    user = np.array([r["source"] in USER_SETS for r in rows])
    n_user, n_other = user.sum(), (~user).sum()
    if not n_user or not n_other:
        return np.ones(len(rows))
    return np.where(user, n_other / n_user, 1.0)


def confidences(rows: list[dict], weights: np.ndarray, bias: float, names: tuple[str, ...]) -> np.ndarray:
    has = np.array([r["features"] is not None for r in rows])
    z = matrix(rows, names) @ weights + bias
    return np.where(has, 1 / (1 + np.exp(-np.clip(z, -60, 60))), 0.0)


def choose_cuts(conf: np.ndarray, rows: list[dict], *, keep_answerable: float = 0.97,
                confident_precision: float = 0.88) -> tuple[float, float]:
    answerable = np.array([r["answerable"] for r in rows])
    correct = np.array([r["correct"] for r in rows])
    grid = np.unique(np.round(conf, 4))
    none_below = 0.0
    for t in grid:
        if (conf[answerable] >= t).mean() >= keep_answerable:
            none_below = float(t)
    confident_from = 1.0
    for t in sorted(grid, reverse=True):
        given = conf >= t
        if t < none_below or not given.any():
            continue
        if correct[given].mean() >= confident_precision:
            confident_from = float(t)
        else:
            break
    return none_below, max(confident_from, none_below)


# Candidate feature sets; ``fit`` ships the one with the best out-of-fold area on the
# users'-style fit rows (the fewest features on a tie within 0.5).
FEATURE_SETS = {
    "margin, cosine, names, english": ("margin", "retrieval", "unmentioned", "english"),
    "+ kind": ("margin", "retrieval", "unmentioned", "english", "kind"),
    "+ probability": ("margin", "retrieval", "unmentioned", "english", "probability"),
    "+ off_top": ("margin", "retrieval", "unmentioned", "english", "off_top"),
    "+ length": ("margin", "retrieval", "unmentioned", "english", "length"),
    "+ kind, probability, off_top": ("margin", "retrieval", "unmentioned", "english", "kind",
                                     "probability", "off_top"),
    "all": FEATURE_NAMES,
    "margin, cosine": ("margin", "retrieval"),
}


def cross_validated(rows: list[dict], names: tuple[str, ...], folds: int = 5, seed: int = 0,
                    boosting: bool = False) -> np.ndarray:
    """Out-of-fold confidences: folds by question id, so a question's reads stay together.
    ``boosting``: scikit-learn's gradient boosting instead of the logistic model (for the
    comparison only: scikit-learn is not a dependency of the product)."""
    ids = sorted({r["id"] for r in rows})
    random.Random(seed).shuffle(ids)
    fold_of = {i: n % folds for n, i in enumerate(ids)}
    out = np.zeros(len(rows))
    y = np.array([r["correct"] for r in rows], dtype=float)
    for f in range(folds):
        test = np.array([fold_of[r["id"]] == f for r in rows])
        train_rows = [r for r, t in zip(rows, test) if not t]
        test_rows = [r for r, t in zip(rows, test) if t]
        if boosting:
            from sklearn.ensemble import HistGradientBoostingClassifier

            model = HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200,
                                                   random_state=seed)
            model.fit(matrix(train_rows, names), y[~test], sample_weight=row_weights(train_rows))
            has = np.array([r["features"] is not None for r in test_rows])
            out[test] = np.where(has, model.predict_proba(matrix(test_rows, names))[:, 1], 0.0)
        else:
            w, b = fit_logistic(matrix(train_rows, names), y[~test], row_weights(train_rows))
            out[test] = confidences(test_rows, w, b, names)
    return out


def compare_feature_sets(fit_rows: list[dict]) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """Out-of-fold (5-fold, three shuffles) area and coverage@90 of each feature set on the
    users'-style fit rows, and the markdown table rows saying so."""
    users = [r for r in fit_rows if r["source"] in USER_SETS]
    user_mask = np.array([r["source"] in USER_SETS for r in fit_rows])
    scores = {}
    lines = []
    for label, names in FEATURE_SETS.items():
        runs = [summarise(cross_validated(fit_rows, names, seed=seed)[user_mask], users) for seed in range(3)]
        scores[label] = (float(np.mean([r["area"] for r in runs])), float(np.mean([r["coverage@90"] for r in runs])))
        lines.append(f"| logistic: {label} | {scores[label][0]:.1f} | {scores[label][1]:.1f} |")
    try:
        s = summarise(cross_validated(fit_rows, FEATURE_NAMES, boosting=True)[user_mask], users)
        lines.append(f"| gradient boosting (scikit-learn, depth 3, 200 rounds): all | {s['area']:.1f} | "
                     f"{s['coverage@90']:.1f} |")
    except ImportError:
        lines.append("| gradient boosting | not measured (scikit-learn not installed) | |")
    return scores, lines


def fit(args) -> int:
    rows = load_rows(args.rows)
    fit_rows = [r for r in rows if r["split"] == "fit"]
    users = [r for r in fit_rows if r["source"] in USER_SETS]
    y = np.array([r["correct"] for r in fit_rows], dtype=float)
    print(f"{len(fit_rows)} fit rows ({len(users)} users'-style); right: {y.mean():.3f}")
    user_mask = np.array([r["source"] in USER_SETS for r in fit_rows])
    scores, lines = compare_feature_sets(fit_rows)
    print("\n".join(lines))
    best_area = max(area for area, _ in scores.values())
    chosen = min((label for label, (area, _) in scores.items() if area >= best_area - 0.5),
                 key=lambda label: len(FEATURE_SETS[label]))
    names = FEATURE_SETS[chosen]
    print(f"chosen: {chosen}")
    # The cuts come from out-of-fold confidences, so they do not trust an in-sample fit.
    oof = cross_validated(fit_rows, names)[user_mask]
    none_below, confident_from = choose_cuts(oof, users)
    weights, bias = fit_logistic(matrix(fit_rows, names), y, row_weights(fit_rows))
    policy = ConfidencePolicy(weights={n: round(float(w), 4) for n, w in zip(names, weights)},
                              bias=round(bias, 4), none_below=round(none_below, 4),
                              confident_from=round(confident_from, 4))
    print(policy)
    print("out of fold, users'-style fit rows:", format_summary(summarise(oof, users, policy=policy)))
    return 0


# -- figures ---------------------------------------------------------------------------------

def summarise(conf: np.ndarray, rows: list[dict], *, policy: ConfidencePolicy | None = None,
              legacy: bool = False) -> dict:
    """Risk-coverage area, coverage at 90 % precision (both 0-100, as ``qa eval`` reports them)
    and, with a policy, the tier shares. ``candidate_f1`` stands in as 1 or 0 from the row's
    ``correct``, which was scored with the same F1 >= 0.5 rule."""
    answerable = np.array([r["answerable"] for r in rows])
    correct = np.array([r["correct"] for r in rows])
    has = np.array([bool(r["candidate"]) for r in rows])
    out = {"n": len(rows), "answerable": int(answerable.sum()), "unanswerable": int((~answerable).sum())}
    # The curve as qa eval draws it (qa.evaluation.metrics), over the rows as its results.
    results = [SimpleNamespace(answers=r["answers"], candidate=r["candidate"], confidence=float(c),
                               tier="", candidate_f1=1.0 if r["correct"] else 0.0)
               for r, c in zip(rows, conf)]
    points = risk_coverage_curve(results)
    out["area"] = (area_under_curve(points) or 0.0) if answerable.any() else 0.0
    out["coverage@90"] = (coverage_at_precision(points) or 0.0) if answerable.any() else 0.0
    if policy is not None or legacy:
        if legacy:
            tiers = np.where(conf >= LEGACY.none_below, "confident", "none")
        else:
            tiers = np.array([policy.tier(float(c), has_answer=bool(h)) for c, h in zip(conf, has)])
        for part, mask in (("answerable", answerable), ("unanswerable", ~answerable)):
            if mask.any():
                out[f"tiers {part}"] = {t: 100 * float((tiers[mask] == t).mean())
                                        for t in ("confident", "uncertain", "none")}
        conf_mask = tiers == "confident"
        out["confident right"] = 100 * float(correct[conf_mask].mean()) if conf_mask.any() else None
        shown = tiers != "none"
        f1 = [score_answer(r["candidate"], r["answers"], abstained=not s).f1_de if r["answers"] or s else 1.0
              for r, s in zip(rows, shown)]
        out["f1 shown"] = 100 * float(np.mean(f1))
        out["f1 never refuse"] = 100 * float(np.mean([
            score_answer(r["candidate"], r["answers"], abstained=False).f1_de if r["answers"] else 0.0
            for r in rows]))
    return out


def format_summary(s: dict) -> str:
    text = f"area {s['area']:.1f}, coverage@90 {s['coverage@90']:.1f}"
    if "f1 shown" in s:
        text += (f", confident right {_f(s.get('confident right'))}, F1 shown {s['f1 shown']:.1f} / "
                 f"never refuse {s['f1 never refuse']:.1f}")
        for part in ("answerable", "unanswerable"):
            if f"tiers {part}" in s:
                text += f"; {part} c/u/n " + "/".join(f"{s['tiers ' + part][t]:.0f}"
                                                      for t in ("confident", "uncertain", "none"))
    return text


def _f(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(args) -> int:
    rows = load_rows(args.rows)
    policy = ConfidencePolicy()
    groups = {}
    for r in rows:
        if r["split"] not in ("holdout", "measure"):
            continue
        name = "XQuAD 40-47 (with / without gold paragraph)" if r["source"].startswith("xquad") else r["source"]
        groups.setdefault(f"{name} ({r['split']})", []).append(r)
        if r["source"] in ("seeds_paraphrase", "gnad_dev", "seeds_holdout"):
            groups.setdefault(f"  {name} {r['split']}: {r['style']}", []).append(r)
    lines = [f"`python benchmarks/calibrate_confidence.py collect && python benchmarks/calibrate_confidence.py report` "
             f"({len(rows)} reads; the policy in qa/answering/confidence.py against the one shipped before, "
             "on the same reads). Area: under precision-over-coverage (0-100, higher is better); "
             "precision counts an answer right at F1 >= 0.5 (German normalisation), an answer to "
             "an unanswerable question wrong; coverage is the share of answerable questions answered. "
             "Tiers c/u/n: % confident / uncertain / none (the old policy had no uncertain tier).", "",
             "| set | n (ans/unans) | area old → new | coverage@90 old → new | answerable c/u/n | "
             "unanswerable c/u/n | confident right | F1 shown (c+u) | F1 never refuse | old: answerable refused / unanswerable refused |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, members in groups.items():
        conf = np.array([0.0 if r["features"] is None else policy.probability(ConfidenceFeatures(
            **r["features"])) for r in members])
        old = np.array([r["legacy"] for r in members])
        new_s = summarise(conf, members, policy=policy)
        old_s = summarise(old, members, legacy=True)
        tiers = lambda s, p: "/".join(f"{s['tiers ' + p][t]:.0f}" for t in ("confident", "uncertain", "none")) if "tiers " + p in s else "-"  # noqa: E731
        lines.append(
            f"| {name} | {new_s['answerable']}/{new_s['unanswerable']} | {old_s['area']:.1f} → {new_s['area']:.1f} | "
            f"{old_s['coverage@90']:.1f} → {new_s['coverage@90']:.1f} | {tiers(new_s, 'answerable')} | "
            f"{tiers(new_s, 'unanswerable')} | {_f(new_s.get('confident right'))} | {new_s['f1 shown']:.1f} | "
            f"{new_s['f1 never refuse']:.1f} | {_f(old_s.get('tiers answerable', {}).get('none'))} / "
            f"{_f(old_s.get('tiers unanswerable', {}).get('none'))} |")
    lines += ["", "Issue 13's targets on the held-out parts of our own sets (✓ met, ✗ not met):", ""]
    own = [(name, members) for name, members in groups.items()
           if not name.startswith(" ") and not name.startswith("XQuAD") and "(measure)" not in name]
    for name, members in own:
        conf = np.array([0.0 if r["features"] is None else policy.probability(ConfidenceFeatures(
            **r["features"])) for r in members])
        tiers = np.array([policy.tier(float(c), has_answer=bool(r["candidate"])) for c, r in zip(conf, members)])
        ans = np.array([r["answerable"] for r in members])
        para = np.array([r["style"] == "paraphrase" and r["answerable"] for r in members])
        right = np.array([r["correct"] for r in members])
        s_new = summarise(conf, members, policy=policy)
        s_old = summarise(np.array([r["legacy"] for r in members]), members, legacy=True)
        checks = []
        if para.any():
            v = 100 * float((tiers[para] == "none").mean())
            checks.append(f"paraphrased answerable in none {v:.1f} % (≤ 10) {'✓' if v <= 10 else '✗'}")
        v = 100 * float((tiers[ans] == "none").mean())
        checks.append(f"answerable in none {v:.1f} % (≤ 5) {'✓' if v <= 5 else '✗'}")
        if (~ans).any():
            v = 100 * float((tiers[~ans] != "confident").mean())
            w = 100 * float((tiers[~ans] == "confident").mean())
            checks.append(f"unanswerable none or uncertain {v:.1f} % (≥ 80) {'✓' if v >= 80 else '✗'}, "
                          f"confident {w:.1f} % (≤ 10) {'✓' if w <= 10 else '✗'}")
        d = s_new["f1 shown"] - s_new["f1 never refuse"]
        checks.append(f"F1 shown {s_new['f1 shown']:.1f} vs never refuse {s_new['f1 never refuse']:.1f} "
                      f"(within 2 or above) {'✓' if d >= -2 else '✗'}")
        conf_mask = tiers == "confident"
        p = 100 * float(right[conf_mask].mean()) if conf_mask.any() else 0.0
        c = 100 * float(conf_mask[ans].mean())
        checks.append(f"confident right {p:.1f} % (≥ 85) {'✓' if p >= 85 else '✗'}, answerable with a "
                      f"confident answer {c:.1f} % (≥ 50) {'✓' if c >= 50 else '✗'}")
        checks.append(f"area {s_old['area']:.1f} → {s_new['area']:.1f} (better than the old policy) "
                      f"{'✓' if s_new['area'] > s_old['area'] else '✗'}")
        lines.append(f"- {name}: " + "; ".join(checks) + ".")
    fit_rows = [r for r in rows if r["split"] == "fit"]
    _, cv_lines = compare_feature_sets(fit_rows)
    lines += ["", f"How the shipped model was chosen (`python benchmarks/calibrate_confidence.py fit`): "
              f"{len(fit_rows)} fit rows, of which {sum(r['source'] in USER_SETS for r in fit_rows)} "
              "users'-style (abstention_calibration, the fit halves of seeds_paraphrase and gnad_dev); "
              "out-of-fold area and coverage@90 on the users'-style fit rows, 5 folds by question, "
              "three shuffles:", "", "| model: features | area | coverage@90 |", "|---|---|---|", *cv_lines,
              "", f"Shipped: {policy}."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        update_section(SECTION, text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, default=ROWS,
                        help=f"the folder of collected rows, one file per part (default {ROWS})")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="read every set once and write the rows")
    c.add_argument("parts", nargs="*", choices=PARTS, default=list(PARTS), metavar="PART",
                   help=f"what to read (default: all of {', '.join(PARTS)})")
    c.add_argument("--xquad-questions", type=positive_int, default=150, help="XQuAD 0-39 questions sampled")
    c.add_argument("--xquad-held-out", type=positive_int, default=120, help="XQuAD 40-47 questions sampled")
    c.add_argument("--gnad-corpus", type=Path, default=REPO / "runs" / "gnad" / "corpus")
    c.add_argument("--gnad-index", type=Path, default=REPO / "runs" / "gnad" / "index",
                   help="the 10kGNAD index (python -m benchmarks.gnad_corpus DIR; qa index DIR --index-dir IDX)")
    sub.add_parser("fit", help="fit the policy on the fit rows and print it")
    r = sub.add_parser("report", help="held-out figures of the shipped policy against the old one")
    r.add_argument("--write", action="store_true", help="also write them to docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command != "collect" and not any(args.rows.glob("*.jsonl")):
        parser.error(f"{args.rows} holds no collected rows; run the collect command first")
    if args.command == "collect" and "gnad" in args.parts and not (args.gnad_index / "manifest.json").is_file():
        parser.error(f"{args.gnad_index}: no 10kGNAD index; build it with python -m benchmarks.gnad_corpus "
                     f"{args.gnad_corpus} && qa index {args.gnad_corpus} --index-dir {args.gnad_index}")
    started = time.perf_counter()
    code = {"collect": collect, "fit": fit, "report": report}[args.command](args)
    print(f"({time.perf_counter() - started:.0f} s)")
    return code


if __name__ == "__main__":
    sys.exit(main())
