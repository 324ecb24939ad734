"""Queries: the five retrieval modes and the context they build."""
