"""What the span rules change: answers inside one sentence, one name for a one-name question.

    python -m experiments.answer_spans [--write]
    python -m experiments.answer_spans --limit 3       # smoke run: first 3 questions per set

A concluded experiment (the rules are the reader's default, ``span_rules=True``); kept to rerun.

Each answerable question of the sets below is retrieved once (k = Settings.k) and read twice
from the same passages by the same model: with ``span_rules`` (the default) and without. Reports
the top answer's EM / F1 (German normalisation, never refusing: the rules act on spans, not on
the confidence), how many top answers changed, and a few of the changes. With ``--write`` the
figures go to docs/BENCHMARKS.md, section "Answer spans (one sentence, one name)".
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.report import positive_int, update_section  # noqa: E402
from qa.evaluation.scoring import score_answer  # noqa: E402

SECTION = "Answer spans (one sentence, one name)"
GNAD_CORPUS = REPO / "runs" / "gnad" / "corpus"
GNAD_INDEX = REPO / "runs" / "gnad" / "index"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--gnad-corpus", type=Path, default=GNAD_CORPUS)
    parser.add_argument("--gnad-index", type=Path, default=GNAD_INDEX)
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="first N answerable questions per set (a smoke run; not written)")
    args = parser.parse_args(argv)
    if args.write and args.limit is not None:
        parser.error("--limit is a smoke run; its figures are not written (drop --write or --limit)")
    logging.basicConfig(level=logging.WARNING)
    from qa.reading.reader import TransformersReader
    from qa.settings import Settings
    from qa.system import QASystem

    settings = Settings.from_env()
    system = QASystem.load(settings, show_progress=False)
    pipeline = system.pipeline
    reader = pipeline.reader
    plain = TransformersReader(reader.model, reader.tokenizer, name=reader.name, mode=reader.mode,
                               max_length=reader.max_length, stride=reader.stride,
                               passage_prior=reader.passage_prior, null_weight=reader.null_weight,
                               span_rules=False)
    sets = [("seeds_dev", REPO / "eval" / "seeds_dev.jsonl", pipeline.retriever, None),
            ("seeds_holdout", REPO / "eval" / "seeds_holdout.jsonl", pipeline.retriever, None)]
    if (args.gnad_index / "manifest.json").exists():
        gnad = QASystem.load(settings.replace(corpus_dir=args.gnad_corpus, index_dir=args.gnad_index),
                             parts="retrieval", embedder=system.embedder, allow_rebuild=False,
                             show_progress=False).retriever
        sets.append(("gnad_dev (holdout)", REPO / "eval" / "gnad_dev.jsonl", gnad, "holdout"))
    lines = ["Command: `python -m experiments.answer_spans --write` (answerable questions; top answer, "
             "never refusing; German normalisation).", "",
             "| set | questions | EM without → with | F1 without → with | top answers changed |",
             "|---|---|---|---|---|"]
    examples: list[str] = []
    for name, path, retriever, split in sets:
        rows = [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
        rows = [r for r in rows if r["answers"] and (split is None or r.get("split") == split)][:args.limit]
        scores = {"without": [], "with": []}
        changed = 0
        for row in tqdm(rows, desc=name):
            hits = retriever.search(row["question"], k=settings.k)
            texts = {}
            for label, current in (("without", plain), ("with", reader)):
                answers = current.read(row["question"], hits, top_n=1)
                texts[label] = answers[0].text if answers else ""
                scores[label].append(score_answer(texts[label], row["answers"], abstained=False))
            if texts["without"] != texts["with"]:
                changed += 1
                if len(examples) < 8:
                    examples.append(f"- {row['question']} → «{texts['without']}» became «{texts['with']}» "
                                    f"(gold «{row['answers'][0]}»)")
        em = {k: 100 * float(np.mean([s.em_de for s in v])) for k, v in scores.items()}
        f1 = {k: 100 * float(np.mean([s.f1_de for s in v])) for k, v in scores.items()}
        lines.append(f"| {name} | {len(rows)} | {em['without']:.1f} → {em['with']:.1f} | "
                     f"{f1['without']:.1f} → {f1['with']:.1f} | {changed} |")
    lines += ["", "Changes seen:", "", *examples]
    text = "\n".join(lines)
    print(text)
    if args.write:
        update_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
