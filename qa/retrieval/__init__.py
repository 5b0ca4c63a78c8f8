"""Question → ranked passages (Hits): dense, BM25 or both fused, with document filters."""
