"""Notebook helpers: plots, widgets and graph views (need the ``lab`` extra)."""
