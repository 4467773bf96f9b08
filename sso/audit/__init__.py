"""The audit log: who did what, when, from where. Never secrets."""

from .service import EVENTS, record, register_events

__all__ = ["EVENTS", "record", "register_events"]
