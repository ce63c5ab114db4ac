"""Autonomy Arena: measure what an AI agent can really do on its own."""

__version__ = "0.1.0"
