"""The engine: sources bound on an Ibis backend, metrics compiled to Ibis, series assembled."""

from northstar.engine.engine import MetricEngine
from northstar.engine.plan import MetricQuery

__all__ = ["MetricEngine", "MetricQuery"]
