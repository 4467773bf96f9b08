"""The audit log: who did what, when, from where. Never secrets."""

from .service import EVENTS, flush, record, record_anonymous, register_events

__all__ = ["EVENTS", "flush", "record", "record_anonymous", "register_events"]
