"""The HTTP API: upstream SmolRAG's ``POST /query`` kept as it is, plus retrieval, documents, stats
and health, behind bearer authentication, body-size and rate limits (``smolrag-lab serve``).
"""

from .app import create_app, serve

__all__ = ["create_app", "serve"]
