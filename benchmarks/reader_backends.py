"""The reader's forward pass on torch and on OpenVINO, side by side in one run.

    flock -x /tmp/cpu.lock python -m benchmarks.reader_backends [--rounds 3] [--no-write]

Over every question of eval/seeds_dev.jsonl with its retrieved passages (the product's
settings: hybrid, k=3): agreement (the answers each backend reads, compared span by span, and
the largest start/end logit difference over all windows) and speed (median seconds of one
question's ``read_with_evidence`` per backend, backends interleaved question by question and
their order alternated, so load from other processes falls on both alike).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.load_app import distinct_questions  # noqa: E402
from benchmarks.report import positive_int, update_section  # noqa: E402

TITLE = "Reader backends"


def logits(reader, question: str, hits) -> list[np.ndarray]:
    """Every window's start and end logits of ``question`` over ``hits``, as the reader sees them."""
    encoding = reader._encode(reader._cut_question(question), reader._contexts(list(hits)))
    starts, ends = reader._forward([encoding])[0]
    return [np.concatenate([starts[w], ends[w]]) for w in sorted(starts)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=positive_int, default=3, help="timed reads of each question per backend")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = parser.parse_args(argv)

    from qa.answering.confidence import SUPPORT_CANDIDATES
    from qa.reading.runtime import with_reader_backend
    from qa.settings import Settings
    from qa.system import QASystem

    settings = Settings.from_env().replace(reader_backend="torch")
    system = QASystem.load(settings)
    retriever, torch_reader = system.pipeline.retriever, system.pipeline.reader
    readers = {"torch": torch_reader,
               "openvino": with_reader_backend(torch_reader, "openvino", cache_dir=settings.cache_dir)}
    top_n = max(settings.top_n, SUPPORT_CANDIDATES)
    questions = distinct_questions()
    load_before = os.getloadavg()[0]
    seconds: dict[str, list[float]] = {name: [] for name in readers}
    differing, largest, windows = [], 0.0, 0
    for q, question in enumerate(questions):
        hits = retriever.search(question, k=settings.k)
        answers = {}
        for r in range(args.rounds):
            for name in (list(readers) if (q + r) % 2 == 0 else list(reversed(readers))):
                started = time.perf_counter()
                evidence = readers[name].read_with_evidence(question, hits, top_n=top_n)
                seconds[name].append(time.perf_counter() - started)
                answers[name] = [(a.doc_id, a.start, a.end, a.text, a.score) for a in evidence.answers]
        spans = {name: [a[:4] for a in found] for name, found in answers.items()}
        if spans["torch"] != spans["openvino"]:
            differing.append((question, spans["torch"][:1], spans["openvino"][:1]))
        pairs = zip(logits(torch_reader, question, hits), logits(readers["openvino"], question, hits), strict=True)
        for a, b in pairs:
            largest = max(largest, float(np.abs(a - b).max()))
            windows += 1
    load_after = os.getloadavg()[0]
    median = {name: statistics.median(values) for name, values in seconds.items()}
    speedup = median["torch"] / median["openvino"]
    print(f"{len(questions)} questions, {windows} windows: {len(differing)} with different answers; "
          f"largest logit difference {largest:.2e}")
    for question, a, b in differing:
        print(f"  {question!r}: torch {a} / openvino {b}")
    print(f"median read per question: torch {median['torch'] * 1000:.0f} ms, openvino {median['openvino'] * 1000:.0f} ms "
          f"({speedup:.2f}x); load average {load_before:.1f} -> {load_after:.1f}")
    if not args.no_write:
        command = "python -m benchmarks.reader_backends" + ("" if args.rounds == 3 else f" --rounds {args.rounds}")
        listed = "".join(f"\n  - {question!r}: torch {a}, openvino {b}" for question, a, b in differing)
        update_section(TITLE, f"""\
Command: `{command}` ({platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs: load
average {load_before:.1f} before, {load_after:.1f} after). The built-in reader e5-small-qa-de
({torch_reader!r}) over the {len(questions)} questions of eval/seeds_dev.jsonl with their retrieved
passages (hybrid, k={settings.k}), its forward pass on torch and on OpenVINO (qa/reading/runtime.py:
exported once with torch.onnx.export, float32, dynamic batch and width); tokenization, windows and
span choice are the reader's own either way.

| backend | median read per question | vs torch |
|---|---|---|
| torch | {median['torch'] * 1000:.0f} ms | 1.00x |
| openvino | {median['openvino'] * 1000:.0f} ms | {speedup:.2f}x |

- Answers: {len(questions) - len(differing)} of {len(questions)} questions get the same answers (spans and
  texts of all top {top_n}) from both backends.{listed}
- Largest start/end logit difference over all {windows} windows: {largest:.1e}.
- Timing: {args.rounds} reads of each question per backend, interleaved, order alternated.
""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
