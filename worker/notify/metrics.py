"""Metrics of notification delivery (on the worker's registry)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True, slots=True)
class NotifyMetrics:
    """Delivered, failed, attempts by result, and the age of the oldest pending message."""

    delivered: Counter
    failed: Counter
    attempts: Counter
    oldest_pending_age: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> NotifyMetrics:
        """Create and register the metrics (in a fresh registry unless one is given)."""
        reg = registry if registry is not None else CollectorRegistry()
        return cls(
            delivered=Counter(
                "autorec_notifications_delivered",
                "Notifications an endpoint answered 2xx to.",
                ["endpoint"],
                registry=reg,
            ),
            failed=Counter(
                "autorec_notifications_failed",
                "Notifications given up for an endpoint (retried past the maximum age, or "
                "answered 410).",
                ["endpoint", "reason"],
                registry=reg,
            ),
            attempts=Counter(
                "autorec_notification_attempts",
                "Delivery attempts by result (2xx, 410, 4xx, 5xx, error).",
                ["endpoint", "result"],
                registry=reg,
            ),
            oldest_pending_age=Gauge(
                "autorec_notification_oldest_pending_age_seconds",
                "Age of the oldest notification not yet delivered everywhere (0: none).",
                registry=reg,
            ),
        )
