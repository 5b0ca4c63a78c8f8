"""Retrieval + reading → a Response: the question check and follow-ups, the confidence tiers, the pipeline, and what of a Response to show (one JSON shape)."""
