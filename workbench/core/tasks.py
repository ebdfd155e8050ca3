"""Long work that reports progress and can be stopped: a folder scan, a t-SNE, a study, a
hold-out run. Whoever asks for the work may stop it; the work raises `Cancelled` at its next
check, and whoever asked treats that as "nothing to show", never as an error."""

from __future__ import annotations


class Cancelled(Exception):
    """The work was stopped by whoever asked for it (a Cancel button, a newer request)."""

    def __init__(self, message: str = "cancelled"):
        super().__init__(message)
