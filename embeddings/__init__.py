"""The indexing side: articles in (documents, formats, intake), chunks, vectors and a keyword
index out, kept in a store on disk (store, indexing). Imports nothing of qa/."""
