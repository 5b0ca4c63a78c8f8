"""Batch evaluation: datasets in, scored predictions, metrics, reports and comparisons out.

One stage per module: ``datasets`` (reading question sets), ``scoring`` (EM/F1),
``runner`` (asking the system, collecting metrics), ``report`` (terminal table, files,
HTML) and ``compare`` (two runs side by side).
"""
