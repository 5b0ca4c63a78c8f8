"""Questions in, cited answers out: retrieval, readers, pipeline, evaluation and CLI."""
