"""Exceptions the bus raises, shaped so callers can map them to HTTP answers."""

from __future__ import annotations


class BusError(Exception):
    """Base of every error the bus raises itself."""


class BusUnavailable(BusError):
    """NATS cannot be reached (down, reconnecting, or no JetStream answer in time).

    HTTP handlers map this to 503: the request can be retried as is, and a retried publish
    with the same event id is dropped as a duplicate by JetStream.
    """


class PublishRejected(BusError):
    """JetStream answered but refused the message (no stream for the subject, limits...)."""
