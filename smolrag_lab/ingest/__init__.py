"""Ingestion: discovery, chunking, graph merging and the per-document pipeline."""
