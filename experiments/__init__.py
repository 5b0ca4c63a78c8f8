"""Concluded experiments: run once to choose a default; see experiments/README.md."""
