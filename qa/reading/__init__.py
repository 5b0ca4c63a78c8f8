"""Passages → answer spans with exact document offsets: the extractive reader, its loading by name, and the built-in offline model."""
