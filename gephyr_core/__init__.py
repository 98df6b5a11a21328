"""Gephyr core: the relay library (no CLI, no printing)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
