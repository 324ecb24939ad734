"""Stores behind small base classes: vectors (memory-mapped), key-value (SQLite), graph (rows,
with a networkx view).
"""

from .base import GraphStore, KVStore, VectorHit, VectorStore
from .graph import GraphView, GraphWrite
from .graph_rows import RowGraphStore
from .kv import SqliteDatabase, SqliteKV
from .vector import MmapVectorStore

__all__ = [
    "GraphStore",
    "KVStore",
    "VectorHit",
    "VectorStore",
    "GraphView",
    "GraphWrite",
    "RowGraphStore",
    "SqliteDatabase",
    "SqliteKV",
    "MmapVectorStore",
]
