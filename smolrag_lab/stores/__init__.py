"""Stores behind small base classes: vectors (memory-mapped), key-value (SQLite), graph (GraphML)."""

from .base import GraphStore, KVStore, VectorHit, VectorStore
from .graph import NetworkXGraphStore
from .kv import SqliteDatabase, SqliteKV
from .vector import MmapVectorStore

__all__ = [
    "GraphStore",
    "KVStore",
    "VectorHit",
    "VectorStore",
    "NetworkXGraphStore",
    "SqliteDatabase",
    "SqliteKV",
    "MmapVectorStore",
]
