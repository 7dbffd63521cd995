"""Webhook delivery outcomes, one count per attempt (collected by /metrics like every other metric)."""

from __future__ import annotations

from prometheus_client import Counter

DELIVERIES = Counter(
    "sanacloud_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered, http_error, redirect, timeout, connection_error, "
    "refused_address, lost_worker (its worker stopped during the last attempt)",
    ["outcome"])
