"""The reader training script: data discipline, window labels, export format, smoke run."""
from __future__ import annotations

import json
import random

import pytest

from embeddings.errors import QAError
from training.train_reader import (DEFAULT_DATA_DIR, QAExample, build_windows, export_layer_files,
                             load_xquad_examples, main, other_paragraph_negatives,
                             swapped_term_negatives, without_answer_sentence)
from tests.fakes import TINY_QA_QUESTION, build_tiny_qa_model, tiny_qa_context

needs_xquad = pytest.mark.skipif(not (DEFAULT_DATA_DIR / "xquad.de.json").is_file(),
                                 reason="XQuAD files not present next to the repository")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_qa_model(tmp_path_factory.mktemp("tiny-train"), steps=5)


@needs_xquad
def test_training_uses_articles_0_to_39_only():
    examples = load_xquad_examples(DEFAULT_DATA_DIR, ["de"])
    data = json.loads((DEFAULT_DATA_DIR / "xquad.de.json").read_text(encoding="utf-8"))["data"]
    held_out = {qa["id"] for article in data[40:] for p in article["paragraphs"] for qa in p["qas"]}
    assert examples and not held_out & {e.qid for e in examples}
    assert len(examples) == 1013   # 12,156 over 12 languages, as the model card says
    for example in examples[:50]:
        assert example.context[example.answer_start:][:len(example.answer_text)] == example.answer_text
    with pytest.raises(QAError, match="40-47 are held out"):
        load_xquad_examples(DEFAULT_DATA_DIR, ["de"], articles=41)


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(QAError, match="--data-dir"):
        load_xquad_examples(tmp_path, ["de"])
    assert main(["--out", str(tmp_path / "m"), "--data-dir", str(tmp_path)]) == 2


def test_a_bad_answer_offset_names_the_file_of_the_paragraphs_it_is_read_in(tmp_path):
    def squad(question, context, start, text):
        return {"data": [{"paragraphs": [{"context": context, "qas": [
            {"id": "q1", "question": question, "answers": [{"answer_start": start, "text": text}]}]}]}]}

    (tmp_path / "xquad.en.json").write_text(json.dumps(squad("Where?", "In Geneva.", 3, "Geneva")))
    (tmp_path / "xquad.de.json").write_text(json.dumps(squad("Wo?", "In Genf.", 0, "Genf")))  # off
    with pytest.raises(QAError, match=r"xquad\.de\.json: question q1 has an answer offset"):
        load_xquad_examples(tmp_path, ["en"], articles=1, context_language="de")
    with pytest.raises(QAError, match=r"xquad\.de\.json: question q1"):
        load_xquad_examples(tmp_path, ["de"], articles=1)
    assert load_xquad_examples(tmp_path, ["en"], articles=1)[0].answer_text == "Geneva"


def test_windows_point_at_the_answer_or_at_position_0(tiny_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    rng = random.Random(0)
    examples = []
    for i in range(20):
        context, start, answer = tiny_qa_context(rng, rng.randrange(2, 60))
        examples.append(QAExample(str(i), "de", TINY_QA_QUESTION, context, start, answer))
    windows = build_windows(examples, tokenizer, max_length=32, stride=8)
    assert len(windows) > len(examples)  # long contexts were split
    answered = set()
    for window in windows:
        example = examples[window["example"]]
        s, e = window["start_positions"], window["end_positions"]
        if s == 0:
            assert e == 0
            continue
        text = tokenizer.decode(window["input_ids"][s:e + 1])
        assert text.lower() == example.answer_text.lower()
        answered.add(window["example"])
    assert answered == set(range(len(examples)))


def test_export_writes_the_shipped_format(tiny_dir, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(tiny_dir)
    paths = export_layer_files(model, tmp_path / "layers")
    assert [p.name for p in paths] == [f"reader_layers_{i}.safetensors" for i in range(3)]
    exported = {}
    for path in paths:
        exported.update(load_file(str(path)))
    wanted = {k for k in model.state_dict() if k.startswith(("bert.encoder.", "qa_outputs."))}
    assert set(exported) == wanted
    assert all(t.dtype == torch.float16 for t in exported.values())


@pytest.mark.slow
@needs_xquad
def test_smoke_run_writes_a_loadable_model(tmp_path):
    from qa.reading.loading import load_reader

    out = tmp_path / "reader"
    assert main(["--smoke", "--out", str(out)]) == 0
    summary = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert summary["smoke"] and summary["device"] == "cpu" and summary["epochs"] == 1
    assert 0 < summary["windows"] <= 32 and summary["articles"] == "0-39"
    assert len(list((out / "layers").glob("reader_layers_*.safetensors"))) == 3
    def fail():
        raise AssertionError("the trained model did not load")

    assert load_reader(str(out), cache_dir=tmp_path / "cache", fallback=fail).name == str(out)


# --- the no-answer stage (SQuAD 2.0-style negatives) ----------------------------------------

PARAGRAPH = ("Die Konferenz begann am Montag in Wien mit zwanzig Delegationen. Den Vorsitz führte "
             "die Diplomatin Anna Berger aus Graz. Am Dienstag folgten Gespräche über Handel und "
             "Energie, die bis in den Abend dauerten.")


def _example(context=PARAGRAPH, answer="Anna Berger", qid="q1", question="Wer führte den Vorsitz?"):
    return QAExample(qid, "de", question, context, context.index(answer), answer)


def test_without_answer_sentence_drops_only_the_sentence_holding_the_answer():
    cut = without_answer_sentence(_example())
    assert cut is not None and not cut.has_answer and cut.answer_start == -1
    assert "Anna Berger" not in cut.context and "Vorsitz" not in cut.context
    assert cut.context.startswith("Die Konferenz begann") and cut.context.endswith("Abend dauerten.")
    assert cut.question == "Wer führte den Vorsitz?" and cut.qid != "q1"


def test_without_answer_sentence_refuses_when_the_answer_is_still_there_or_little_is_left():
    repeated = PARAGRAPH + " Anna Berger dankte allen Teilnehmern."
    assert without_answer_sentence(_example(repeated)) is None
    assert without_answer_sentence(_example("Den Vorsitz führte Anna Berger. Kurz.")) is None
    assert without_answer_sentence(without_answer_sentence(_example())) is None  # already none


class _TableEmbedder:
    """Vectors looked up by the text's first word: similarity is what the test says it is."""

    def __init__(self, table):
        self.table = table

    def _encode(self, texts):
        import numpy as np

        return np.array([self.table[t.split()[0]] for t in texts], dtype=np.float32)

    encode_queries = _encode

    def encode_passages(self, texts, *, show_progress=False):
        return self._encode(texts)


def test_other_paragraph_negatives_take_the_most_similar_other_paragraph():
    near = "Mitte: Die Konferenz in Wien hatte dreissig Delegationen."
    far = "Zoo: In Basel kam ein Elefant zur Welt."
    states_it = "Graz: Anna Berger leitete die Konferenz in Wien."
    examples = [_example(PARAGRAPH, "Anna Berger", "q1", "Wer führte den Vorsitz?"),
                _example(near, "dreissig", "q2", "Wieviele Delegationen?"),
                _example(far, "Elefant", "q3", "Welches Tier?")]
    pool = examples + [_example(states_it, "Graz", "q4", "Woher?")]
    embedder = _TableEmbedder({"Die": [1, 0, 0], "Mitte:": [0.9, 0.1, 0], "Zoo:": [0, 0, 1],
                               "Graz:": [0.95, 0, 0.05], "Wer": [1, 0, 0], "Wieviele": [0.9, 0.1, 0],
                               "Welches": [0, 0, 1], "Woher?": [0.95, 0, 0.05]})
    negatives = other_paragraph_negatives(pool, embedder, per_question=1)
    by_question = {n.qid.split("#")[0]: n.context for n in negatives}
    assert all(not n.has_answer and n.answer_start == -1 for n in negatives)
    # q1's nearest other paragraph (states_it) names its answer: skipped rather than mislabelled
    assert "q1" not in by_question
    assert by_question["q2"] == PARAGRAPH   # the nearest one, never its own paragraph
    assert by_question["q3"] in (states_it, PARAGRAPH, near) and by_question["q3"] != far
    two = other_paragraph_negatives(pool, embedder, per_question=2)
    assert len([n for n in two if n.qid.startswith("q2#")]) == 2
    assert other_paragraph_negatives(pool, embedder, per_question=0) == []


def test_swapped_term_negatives_swap_a_mentioned_name_for_a_near_unmentioned_one():
    other = "In Basel kam im Jahr 1999 ein Elefant im Zoo Basel zur Welt."
    examples = [_example(PARAGRAPH, "Anna Berger", "q1", "Wer leitete die Konferenz in Wien?"),
                _example(other, "Elefant", "q2", "Welches Tier kam 1999 in Basel zur Welt?"),
                QAExample("q3", "de", "Wer eröffnete die Messe in Zürich?", other, -1, "")]
    # near by the embedder: the cities; Konferenz and Tier are far from every other name
    embedder = _TableEmbedder({"Wien": [1, 0, 0], "Basel": [0.9, 0.1, 0], "Zürich": [0.95, 0, 0.05],
                               "Konferenz": [0, 1, 0], "Tier": [0, 0, 1], "Welt": [0, 0.2, 0.98],
                               "Messe": [0, 0.7, 0.7]})
    negatives = swapped_term_negatives(examples, embedder, per_question=2, seed=3, nearest=1)
    by_question = {}
    for n in negatives:
        by_question.setdefault(n.qid.split("#")[0], []).append(n)
    assert all(not n.has_answer and n.answer_text == "" for n in negatives)
    assert "q3" not in by_question                     # a no-answer question is not a source
    q1 = {n.question for n in by_question["q1"]}
    # Wien (mentioned) -> its nearest name not in the paragraph; Konferenz -> the nearest left
    assert "Wer leitete die Konferenz in Zürich?" in q1
    assert all(n.context == PARAGRAPH for n in by_question["q1"])
    q2 = [n.question for n in by_question["q2"]]
    assert len(q2) == 2 and all(q.startswith("Welches Tier kam ") for q in q2)
    swapped_year = [q for q in q2 if "1999" not in q]
    assert swapped_year
    for question in swapped_year:                      # a year becomes another year, not in the text
        year = question.split()[3]
        assert year.isdigit() and year != "1999" and year not in other and 1969 <= int(year) <= 2029
    # one mentioned term swapped per copy; "Tier" (not in the paragraph) is kept
    assert all(sum(t not in q for t in ("1999", "Basel", "Welt")) == 1 and "Tier" in q for q in q2)
    assert swapped_term_negatives(examples, embedder, per_question=0) == []


def test_swapped_term_negatives_never_swap_out_a_term_of_the_answer():
    context = "Den Vorsitz führte Anna Berger aus Graz, nicht Bern."
    example = _example(context, "Anna Berger aus Graz", "q1", "Wer aus Graz führte den Vorsitz?")
    embedder = _TableEmbedder({"Graz": [1, 0], "Linz": [0.9, 0.1], "Vorsitz": [0, 1]})
    donor = QAExample("q2", "de", "Wo liegt Linz?", "Linz liegt an der Donau.", 0, "Linz")
    negatives = [n.question for n in swapped_term_negatives([example, donor], embedder, per_question=2)
                 if n.qid.startswith("q1#")]
    assert negatives == ["Wer aus Graz führte den Linz?"]   # Vorsitz swapped; Graz is the answer's


def test_no_answer_examples_point_every_window_at_position_0(tiny_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    rng = random.Random(1)
    context, start, answer = tiny_qa_context(rng, 40)
    negative = QAExample("n", "de", TINY_QA_QUESTION, context, -1, "")
    windows = build_windows([negative], tokenizer, max_length=32, stride=8)
    assert len(windows) > 1 and all(w["start_positions"] == w["end_positions"] == 0 for w in windows)


@needs_xquad
def test_context_language_pairs_questions_with_german_paragraphs():
    english = load_xquad_examples(DEFAULT_DATA_DIR, ["en"], articles=2, context_language="de")
    german = {e.qid: e for e in load_xquad_examples(DEFAULT_DATA_DIR, ["de"], articles=2)}
    assert english and {e.qid for e in english} == set(german)
    for example in english:
        assert example.language == "en" and example.question != german[example.qid].question
        assert example.context == german[example.qid].context
        assert example.context[example.answer_start:][:len(example.answer_text)] == example.answer_text


@needs_xquad   # --freeze-layers is checked against the model after the cheap XQuAD read
def test_bad_stage_options_are_clear_errors(tmp_path, capsys):
    out = str(tmp_path / "m")
    assert main(["--smoke", "--out", out, "--freeze-layers", "13"]) == 2
    assert "--freeze-layers 13" in capsys.readouterr().err
    assert main(["--smoke", "--out", out, "--swap-terms", "-1"]) == 2
    assert "--swap-terms -1" in capsys.readouterr().err
    assert main(["--smoke", "--out", out, "--init", str(tmp_path / "nowhere")]) == 2
    assert "not a model folder" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@needs_xquad
def test_no_answer_smoke_run_trains_on_negatives_from_a_trained_reader(tiny_dir, tmp_path, capsys):
    out = tmp_path / "reader-na"
    assert main(["--smoke", "--init", str(tiny_dir), "--freeze-layers", "99", "--out", str(out)]) == 2
    assert "the model has" in capsys.readouterr().err and not out.exists()
    assert main(["--smoke", "--init", str(tiny_dir), "--no-answer", "1", "--cut-answer-sentence",
                 "--swap-terms", "1",
                 "--languages", "de,en", "--context-language", "de", "--freeze-layers", "1",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert summary["init"] == str(tiny_dir) and summary["no_answer_examples"] > summary["questions"]
    assert summary["freeze_layers"] == 1 and summary["context_language"] == "de"
    assert summary["swap_terms"] == 1
