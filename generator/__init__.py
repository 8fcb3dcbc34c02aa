"""Jianbao (剪报): a static archive site generator for news dispatches."""

__version__ = "0.1.0"
