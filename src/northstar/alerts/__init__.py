"""Alerts: anomaly detection, alert rules, monitoring passes and delivery."""
from northstar.alerts.model import Alert, AlertMessage

__all__ = ["Alert", "AlertMessage"]
