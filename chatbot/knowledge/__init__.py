"""Knowledge ingestion: loaders for each file format, chunking, and idempotent indexing into the vector store."""
