"""Demo data: a music streaming app over two years with documented, planted incidents.

``generate_demo`` writes a ready-to-run project (data + ``northstar.yml``);
``INCIDENTS`` lists what was planted, so checks, explanations and anomaly detection can be
tested against known causes. The data is cut like a real export (partial first and last
weeks, a product already running when it starts), has a closed week, sparse segments, a
60-day conversion, and payments that follow listening (the North Star leads revenue).
"""

from __future__ import annotations

from northstar.demo.clock import DEMO_START, DEMO_WEEKS, SITE_TIMEZONE
from northstar.demo.generate import (
    DemoSummary,
    generate_demo,
    generate_events,
    generate_marketing_spend,
    users_for_events,
)
from northstar.demo.incidents import INCIDENTS, INCIDENTS_BY_NAME, Incident

__all__ = [
    "DEMO_START",
    "DEMO_WEEKS",
    "INCIDENTS",
    "INCIDENTS_BY_NAME",
    "SITE_TIMEZONE",
    "DemoSummary",
    "Incident",
    "generate_demo",
    "generate_events",
    "generate_marketing_spend",
    "users_for_events",
]
