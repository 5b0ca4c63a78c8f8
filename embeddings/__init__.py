"""Text in, vectors and an index out: loading, chunking, embedding and FAISS."""
