"""Errors of the training engine that callers catch without importing it (the CLI's one-line report must not
cost every command Lightning's import)."""

from __future__ import annotations


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/Inf loss; the last good checkpoint is kept."""
