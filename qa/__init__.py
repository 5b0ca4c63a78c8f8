"""Questions in, cited answers out. The folders are the stages of one question:
retrieval/ (passages) → reading/ (answer spans) → answering/ (pipeline, confidence, what to
show) → system.py (the one object every surface uses) → web/ (the chat) and commands/ (the
``qa`` CLI, ``qa eval`` over evaluation/). docs/ARCHITECTURE.md follows one question through."""
