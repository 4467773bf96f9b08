"""The audit log: who did what, when, from where. Never secrets."""

from .service import EVENTS, record

__all__ = ["EVENTS", "record"]
