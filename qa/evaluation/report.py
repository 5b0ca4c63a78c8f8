"""A finished run out: the terminal summary, and a run folder (metrics.json,
predictions.jsonl, report.html with embedded plots) written atomically."""
from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from embeddings.atomic import atomic_directory
from embeddings.errors import QAError
from qa.evaluation.metrics import language_of, risk_coverage_curve, selective_rows
from qa.evaluation.runner import QuestionResult

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.jsonl"
REPORT_FILE = "report.html"
RUN_FILES = (METRICS_FILE, PREDICTIONS_FILE, REPORT_FILE)
WORST_SHOWN = 30


def format_value(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = [indent + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                for i, (c, w) in enumerate(zip(line, widths)))
             for line in (header, *rows)]
    lines.insert(1, indent + "  ".join("-" * w for w in widths))
    return lines


def breakdown_columns(groups: dict[str, dict[str, Any]]) -> list[str]:
    """The scalar figures of the groups, in first-seen order (nested objects are JSON only)."""
    keys: list[str] = []
    for figures in groups.values():
        keys.extend(k for k, v in figures.items() if k not in keys and not isinstance(v, (dict, list)))
    return keys


def flat_figures(figures: dict[str, Any] | None, prefix: str = "") -> dict[str, float | None]:
    """``{"share_by_tier.answerable.none": 12.5, ...}``: the numbers of a metrics.json group,
    nested objects flattened with dots; lists (the curve) and strings left out."""
    flat: dict[str, float | None] = {}
    for key, value in (figures or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_figures(value, f"{name}."))
        elif value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            flat[name] = value
    return flat


def _tiers(shares: dict[str, Any] | None) -> str:
    shares = shares or {}
    return " / ".join(format_value(shares.get(tier)) for tier in ("confident", "uncertain", "none")) + " %"


def selective_summary_rows(selective: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The terminal's selective-answering rows; none for a run without confidences."""
    if not selective:
        return []
    shares = selective.get("share_by_tier") or {}
    rows = [
        ("AURC (precision over coverage, 0-100)", format_value(selective.get("aurc"))),
        ("coverage at 90 % precision", f"{format_value(selective.get('coverage_at_90'))} %"),
        ("max coverage / precision there", f"{format_value(selective.get('max_coverage'))} / "
                                           f"{format_value(selective.get('precision_at_max_coverage'))} %"),
    ]
    if selective.get("answerable"):
        rows.append((f"tiers confident / uncertain / none ({selective['answerable']} answerable)",
                     _tiers(shares.get("answerable"))))
    if selective.get("unanswerable"):
        rows.append((f"tiers confident / uncertain / none ({selective['unanswerable']} no-answer)",
                     _tiers(shares.get("unanswerable"))))
    rows.append(("precision of confident / uncertain / refused candidates",
                 _tiers(selective.get("precision_by_tier"))))
    rows.append(("F1 with refusals, uncertain answers count as answers",
                 format_value(selective.get("f1_with_refusals"))))
    rows.append(("F1 with refusals, uncertain answers refused too", format_value(selective.get("f1_uncertain_refused"))))
    rows.append(("F1 answering everything (never refuse)", format_value(selective.get("f1_never_refuse"))))
    return rows


def format_summary(metrics: dict[str, Any]) -> str:
    """The terminal table: headline figures, then one table per breakdown."""
    run = metrics["run"]
    lines = [f"{run.get('dataset_name', run.get('dataset', '?'))} ({run.get('format', '?')}), "
             f"mode {run['mode']}, {run['questions']} questions, k={run['k']}, top_n={run['top_n']}"]
    if run.get("system"):
        lines.append(f"  system: {run['system']}")
    if run.get("errors"):
        lines.append(f"  {run['errors']} question(s) raised an error and count as no answer (see predictions.jsonl)")
    rows = []
    answers = metrics.get("answers")
    if answers:
        rows.append(("EM / F1 (SQuAD normalisation)", f"{format_value(answers['em'])} / {format_value(answers['f1'])}"))
        rows.append(("EM / F1 (German, MLQA-style)", f"{format_value(answers['em_de'])} / {format_value(answers['f1_de'])}"))
    retrieval = metrics.get("retrieval")
    if retrieval:
        rows.append((f"recall@1 / @5 / @10 ({retrieval['relevance']} relevance)",
                     " / ".join(format_value(retrieval[f"recall@{n}"]) for n in (1, 5, 10))))
        rows.append(("MRR@10 / MRR@5 / nDCG@10",
                     " / ".join(format_value(retrieval[key], 3) for key in ("mrr@10", "mrr@5", "ndcg@10"))))
    abstention = metrics.get("abstention")
    if abstention:
        if abstention["no_answer_questions"]:
            rows.append((f"correctly abstained ({abstention['no_answer_questions']} no-answer)",
                         f"{format_value(abstention['correctly_abstained'])} %"))
        rows.append((f"wrongly abstained ({abstention['answerable_questions']} answerable)",
                     f"{format_value(abstention['wrongly_abstained'])} %"))
    selective = selective_summary_rows(metrics.get("selective"))
    if selective:
        rows.append(("selective answering (German F1 >= 0.5 is right)", ""))
        rows.extend((f"  {name}", value) for name, value in selective)
    latency = metrics["latency_ms"]
    rows.append(("latency ms p50 / p95 / max", " / ".join(format_value(latency[key], 0) for key in ("p50", "p95", "max"))))
    lines.extend(text_table(("metric", "value"), rows))
    for name, groups in metrics.get("breakdowns", {}).items():
        columns = breakdown_columns(groups)
        lines.append("")
        lines.append(f"  by {name.replace('_', ' ')}:")
        lines.extend(text_table((name, *columns), [(value, *(format_value(figures.get(c)) for c in columns))
                                               for value, figures in groups.items()], indent="    "))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The run folder

def check_out_dir(out_dir: Path) -> None:
    """Refuse early a folder we would clobber: only an empty folder or an earlier run is replaced."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise QAError(f"--out {out_dir}: is a file; give a folder for metrics.json, predictions.jsonl, report.html")
    foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in RUN_FILES)
    if foreign:
        raise QAError(f"--out {out_dir}: the folder holds other files ({', '.join(foreign[:3])}); "
                      "give a new or empty folder, or an earlier run folder to replace")


def prediction_lines(results: Sequence[QuestionResult]) -> str:
    return "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in results)


def write_run(out_dir: Path | str, metrics: dict[str, Any], results: Sequence[QuestionResult]) -> Path:
    """Write the three files into a temp folder beside ``out_dir`` and rename it into place."""
    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    page = render_html(metrics, results)   # before touching the disk: a plotting error writes nothing
    with atomic_directory(out_dir) as tmp:
        (tmp / METRICS_FILE).write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (tmp / PREDICTIONS_FILE).write_text(prediction_lines(results), encoding="utf-8")
        (tmp / REPORT_FILE).write_text(page, encoding="utf-8")
    return out_dir


def load_run(run_dir: Path | str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """metrics.json and predictions.jsonl of a run folder."""
    run_dir = Path(run_dir)
    metrics_path, predictions_path = run_dir / METRICS_FILE, run_dir / PREDICTIONS_FILE
    for path in (metrics_path, predictions_path):
        if not path.is_file():
            raise QAError(f"{path}: missing; give a folder written by qa eval --out")
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise QAError(f"{metrics_path}:{error.lineno}: invalid JSON ({error.msg}); rerun qa eval") from None
    predictions = []
    for number, line in enumerate(predictions_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            predictions.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise QAError(f"{predictions_path}:{number}: invalid JSON ({error.msg}); rerun qa eval") from None
    return metrics, predictions


# ---------------------------------------------------------------------------------------
# report.html

def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def plots(metrics: dict[str, Any], results: Sequence[QuestionResult]) -> dict[str, str]:
    """Title → PNG data URI. matplotlib's Figure directly (Agg canvas), no pyplot state."""
    from matplotlib.figure import Figure

    images: dict[str, str] = {}
    by_type = metrics.get("breakdowns", {}).get("question_type", {})
    key = "f1" if any("f1" in g for g in by_type.values()) else next(
        (k for g in by_type.values() for k in g if k.startswith("recall@")), None)
    if by_type and key:
        figure = Figure(figsize=(6.5, 3.2))
        axes = figure.subplots()
        names = list(by_type)
        axes.bar(names, [by_type[n].get(key) or 0.0 for n in names], color="#4c72b0")
        for i, n in enumerate(names):
            axes.annotate(f"n={by_type[n]['n']}", (i, (by_type[n].get(key) or 0.0) + 1), ha="center",
                          va="bottom", fontsize=7)
        axes.set_ylabel(key.upper() if key == "f1" else key)
        axes.set_ylim(0, 100)
        axes.tick_params(axis="x", labelrotation=30, labelsize=8)
        axes.set_title(f"{key.upper() if key == 'f1' else key} by question type")
        images[f"{key} by question type"] = _png(figure)

    if results:
        figure = Figure(figsize=(6.5, 3.2))
        axes = figure.subplots()
        axes.hist([r.latency_ms for r in results], bins=30, color="#55a868")
        for name, colour in (("p50", "black"), ("p95", "red")):
            value = metrics["latency_ms"].get(name)
            if value is not None:
                axes.axvline(value, color=colour, linestyle="--", label=f"{name} {value:.0f} ms")
        axes.set_xlabel("latency per question (ms)")
        axes.set_ylabel("questions")
        axes.legend()
        axes.set_title("Latency")
        images["latency histogram"] = _png(figure)

    figure = risk_coverage_figure(metrics, results)
    if figure is not None:
        images["risk-coverage"] = _png(figure)

    answered = [r for r in results if r.score is not None and r.f1 is not None]
    if answered:
        import numpy as np

        figure = Figure(figsize=(6.5, 3.2))
        axes = figure.subplots()
        edges = np.linspace(0.0, 1.0, 11)
        scores = np.clip([r.score for r in answered], 0.0, 1.0)
        bins = np.minimum(np.digitize(scores, edges) - 1, 9)
        centres, f1s, ems, counts = [], [], [], []
        for b in range(10):
            members = [r for r, i in zip(answered, bins) if i == b]
            if members:
                centres.append((edges[b] + edges[b + 1]) / 2)
                f1s.append(np.mean([r.f1 for r in members]))
                ems.append(np.mean([r.em for r in members]))
                counts.append(len(members))
        axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
        axes.plot(centres, f1s, marker="o", label="mean F1")
        axes.plot(centres, ems, marker="s", label="mean EM")
        for x, y, n in zip(centres, f1s, counts):
            axes.annotate(str(n), (x, y), textcoords="offset points", xytext=(0, 5), fontsize=7, ha="center")
        axes.set_xlabel("answer score (bin centre; labels: questions per bin)")
        axes.set_ylabel("correctness")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.05)
        axes.legend(fontsize=8)
        axes.set_title("Score vs correctness (calibration)")
        images["score vs correctness"] = _png(figure)
    return images


PLOTTED_FIELDS = ("paraphrase",)   # extra fields that get their own risk-coverage line per value
MAX_LINES = 8


def risk_coverage_lines(results: Sequence[QuestionResult]) -> dict[str, tuple[int, list[tuple[float, float | None, float]]]]:
    """Label → (questions, curve points): all questions, each language, each value of a
    PLOTTED_FIELDS field (a subset without answerable questions has no coverage and no line)."""
    rows = selective_rows(results)
    if not rows:
        return {}
    subsets: dict[str, list[QuestionResult]] = {"all questions": rows}
    languages = sorted({language_of(r) for r in rows})
    if len(languages) > 1:
        subsets.update({f"lang={lang}": [r for r in rows if language_of(r) == lang] for lang in languages})
    for name in PLOTTED_FIELDS:
        values = sorted({str(r.extras[name]) for r in rows if isinstance(r.extras.get(name), (str, bool))})
        if 1 < len(values) <= MAX_LINES:
            subsets.update({f"{name}={value}": [r for r in rows if str(r.extras.get(name)) == value]
                            for value in values})
    lines = {}
    for label, members in subsets.items():
        points = risk_coverage_curve(members)
        if points and points[0][1] is not None:
            lines[label] = (len(members), points)
    return lines


def risk_coverage_figure(metrics: dict[str, Any], results: Sequence[QuestionResult]):
    """Precision against coverage as the confidence threshold falls, one line per subset, with
    the shipped tiers' operating points marked; None without confidences."""
    from matplotlib.figure import Figure

    lines = risk_coverage_lines(results)
    if not lines:
        return None
    figure = Figure(figsize=(9.0, 4.2))
    axes = figure.subplots()
    for label, (count, points) in lines.items():
        # Start at zero coverage with the first precision, so a curve is visible from one point.
        coverage = [0.0] + [c for _, c, _ in points]
        precision = [points[0][2]] + [p for _, _, p in points]
        overall = label == "all questions"
        style = "-" if overall else "--" if label.startswith("lang=") else "-."
        axes.plot(coverage, precision, color="black" if overall else None, linewidth=2.0 if overall else 1.2,
                  linestyle=style, label=f"{label} (n={count})")
    axes.axhline(90, color="grey", linestyle=":", linewidth=1, label="90 % precision")
    markers = {"shown": ("*", "tab:red", "shipped: confident + uncertain shown"),
               "confident": ("D", "tab:green", "shipped: confident only")}
    operating = (metrics.get("selective") or {}).get("operating_points") or {}
    for name, (marker, colour, text) in markers.items():
        point = operating.get(name)
        if point and point.get("coverage") is not None:
            axes.plot([point["coverage"]], [point["precision"]], marker=marker, color=colour, markersize=11,
                      markeredgecolor="black", linestyle="none",
                      label=f"{text}\n(confidence >= {point['threshold']:.2f})", zorder=5)
    axes.set_xlim(0, 100)
    axes.set_ylim(0, 105)
    axes.set_xlabel("coverage (% of answerable questions answered)")
    axes.set_ylabel("precision (% of answers given that are right)")
    axes.set_title("Risk-coverage: answering only above a confidence threshold")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    axes.grid(alpha=0.3)
    return figure


def _passage_html(result: QuestionResult) -> str:
    """The passage, escaped, with the cited answer marked when it lies inside it."""
    passage, cited, start = result.passage, result.cited, result.passage_start
    if cited is None or start is None or cited.doc_id != result.passage_doc_id:
        return html.escape(passage)
    a, b = cited.start - start, cited.end - start
    if not (0 <= a <= b <= len(passage)):
        return html.escape(passage)
    return html.escape(passage[:a]) + "<mark>" + html.escape(passage[a:b]) + "</mark>" + html.escape(passage[b:])


def worst_questions(results: Sequence[QuestionResult], n: int = WORST_SHOWN) -> list[QuestionResult]:
    """Lowest F1 first, confident mistakes before unsure ones; in retrieval mode, worst rank first."""
    if any(r.f1 is not None for r in results):
        scored = [r for r in results if r.f1 is not None]
        return sorted(scored, key=lambda r: (r.f1, -(r.score or 0.0)))[:n]
    return sorted(results, key=lambda r: -(r.first_relevant_rank or 10_000))[:n]


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(metrics: dict[str, Any], results: Sequence[QuestionResult]) -> str:
    """One self-contained page; every text from data or models is HTML-escaped."""
    esc = html.escape
    sections = []
    run_rows = [(esc(str(k)), esc(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v))
                for k, v in metrics["run"].items()]
    sections.append("<h2>Run</h2>" + _html_table(("setting", "value"), run_rows))
    figure_rows = []
    for group in ("answers", "retrieval", "abstention", "selective", "latency_ms"):
        figures = flat_figures(metrics.get(group)) if group == "selective" else (metrics.get(group) or {})
        for key, value in figures.items():
            figure_rows.append((esc(group), esc(key), esc(format_value(value, 3 if "mrr" in key or "ndcg" in key else 1))))
    sections.append("<h2>Metrics</h2>" + _html_table(("group", "metric", "value"), figure_rows))
    for title, uri in plots(metrics, results).items():
        sections.append(f"<h3>{esc(title)}</h3><img alt=\"{esc(title)}\" src=\"{uri}\">")
    for name, groups in metrics.get("breakdowns", {}).items():
        columns = breakdown_columns(groups)
        rows = [(esc(value), *(esc(format_value(figures.get(c))) for c in columns)) for value, figures in groups.items()]
        sections.append(f"<h2>By {esc(name.replace('_', ' '))}</h2>" + _html_table((name, *columns), rows))
    worst_rows = []
    for r in worst_questions(results):
        gold = "<br>".join(esc(a) for a in r.answers) if r.answers else ("<i>no answer</i>" if r.answers == [] else "-")
        prediction = "<i>abstained</i>" if r.abstained else esc(r.prediction)
        if r.abstained and r.candidate:
            prediction += f"<br><small>candidate: {esc(r.candidate)}</small>"
        if r.tier == "uncertain":
            prediction += " <small>(uncertain)</small>"
        worst_rows.append((esc(r.id), esc(r.question), gold, prediction, esc(format_value(r.score, 3)), esc(format_value(r.f1, 2)),
                           esc(format_value(r.first_relevant_rank)), esc(r.passage_doc_id or ""),
                           f"<div class=passage>{_passage_html(r)}</div>"))
    sections.append(f"<h2>Worst questions ({len(worst_rows)})</h2>" + _html_table(
        ("id", "question", "gold", "prediction", "score", "F1", "first relevant rank", "passage doc", "passage read"),
        worst_rows))
    title = f"qa eval: {metrics['run'].get('dataset_name', '')} ({metrics['run']['mode']})"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 80em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.5em; vertical-align: top; text-align: left; }}
th {{ background: #f3f3f3; }}
.passage {{ max-width: 40em; max-height: 12em; overflow: auto; font-size: 0.85em; }}
mark {{ background: #ffe08a; }}
</style></head><body>
<h1>{esc(title)}</h1>
{''.join(sections)}
</body></html>
"""
