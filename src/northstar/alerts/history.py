"""What the dashboard shows of alerts: the alerts recorded in the state file with their
delivery state, and the anomaly marks of one metric.

Each live monitoring pass records the alerts it found under `"recorded"` in the alerts state
(next to delivery's `"deliveries"` and `"alerts"`), with the key of the message that carried
them, so that the list keeps each alert's title, why and link after delivery dropped the
message itself. `listing()` joins the two: every alert, newest first, and per channel its
delivery state (pending, delivered, failed), attempts and last error. Channel configurations
are never in the state; every text shown goes through `envvars.redact` with the spec's channel
secrets too (a state written by an older version, or by a process whose error escaped it).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Iterable

from northstar import envvars
from northstar.alerts.model import Alert
from northstar.fileio import write_atomic

MAX_RECORDED = 500  # alerts kept in the state's record, newest first
SECRET_FIELDS = ("url", "secret", "username", "password")


def read(path: Path) -> dict[str, Any]:
    """The state file as a dict (empty when it is missing or unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write(path: Path, state: dict[str, Any]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(Path(path), json.dumps(state, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def record(path: Path, alerts: Iterable[tuple[Alert, str]], now: dt.datetime) -> None:
    """Add (alert, key of its message) pairs of a pass to the state's record (under the state's
    lock: another process may be writing its deliveries meanwhile)."""
    from northstar.alerts.statefile import changing

    pairs = list(alerts)
    if not pairs:
        return
    with changing(path) as state:
        kept = state.get("recorded") if isinstance(state.get("recorded"), dict) else {}
        for alert, message_key in pairs:
            first = (kept.get(alert.key) or {}).get("first_seen") or now.isoformat()
            kept[alert.key] = {**alert.to_dict(), "message_key": message_key, "first_seen": first,
                               "last_seen": now.isoformat()}
        newest = sorted(kept.items(), key=lambda kv: (kv[1].get("period") or "", kv[1].get("last_seen") or ""),
                        reverse=True)[:MAX_RECORDED]
        state["recorded"] = dict(newest)


def _secrets(spec: Any) -> list[str]:
    """Values of the channels' `${VAR}` fields as this process's environment has them, and
    secrets written literally in the spec (a URL or a password): what must never be shown, on
    top of what `envvars.redact` knows (the values this process resolved itself)."""
    found: list[str] = []
    for channel in spec.alerts.channels.values():
        for name in SECRET_FIELDS:
            text = getattr(channel, name, None)
            if not text:
                continue
            found.extend(envvars.values_in(str(text)))
            if not envvars.REFERENCE.search(str(text)) and name != "username":
                found.append(str(text))  # a literal URL or password in the spec is a secret too
    return found


def _scrub(text: Any, secrets: list[str]) -> Any:
    if not isinstance(text, str):
        return text
    return envvars.redact(text, secrets)


def _from_key(key: str) -> dict[str, Any]:
    kind, _, rest = key.partition(":")
    metric, _, period = rest.rpartition(":")
    return {"key": key, "kind": kind, "metric": metric or rest, "period": period or None, "severity": None,
            "title": key, "why": [], "link": None}


FIELDS = ("key", "kind", "metric", "label", "period", "severity", "title", "why", "link", "value", "expected")


def listing(spec: Any, state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every alert of the state (as `read` gives it), newest first, each with its deliveries per
    channel."""
    secrets = _secrets(spec)
    items: dict[str, dict[str, Any]] = {}
    carried: dict[str, str] = {}  # alert key -> message key
    for key, entry in (state.get("recorded") or {}).items():
        if isinstance(entry, dict):
            items[key] = {f: entry.get(f) for f in FIELDS} | {"key": key}
            carried[key] = entry.get("message_key") or key
    deliveries = [e for e in (state.get("deliveries") or {}).values() if isinstance(e, dict) and e.get("message_key")]
    for entry in deliveries:  # alerts known only from a message still kept for sending
        for alert in (entry.get("message") or {}).get("alerts") or []:
            if isinstance(alert, dict) and alert.get("key") and alert["key"] not in items:
                items[alert["key"]] = {f: alert.get(f) for f in FIELDS}
                carried[alert["key"]] = entry["message_key"]
        message_key = entry["message_key"]
        if message_key not in items and message_key not in carried.values():  # e.g. a digest
            items[message_key] = _from_key(message_key) | {"title": (entry.get("message") or {}).get("title")
                                                                    or message_key}
            carried[message_key] = message_key
    for key, seen in (state.get("alerts") or {}).items():  # fired, but nothing more is known
        if key not in items:
            items[key] = _from_key(key) | {"fired": (seen or {}).get("fired")}
            carried[key] = key
    out = []
    for key, item in items.items():
        channels = [{"channel": e.get("channel"), "status": e.get("status"), "attempts": int(e.get("attempts") or 0),
                     "error": _scrub(e.get("error"), secrets), "at": e.get("at")}
                    for e in deliveries if e["message_key"] == carried.get(key)]
        item["title"] = _scrub(item.get("title"), secrets)
        item["why"] = [_scrub(w, secrets) for w in item.get("why") or []]
        item["message_key"] = carried.get(key)
        item["deliveries"] = sorted(channels, key=lambda c: str(c["channel"]))
        out.append(item)
    out.sort(key=lambda a: (a.get("period") or "", a["key"]), reverse=True)
    return out


def schedule_status(spec: Any, state: dict[str, Any]) -> dict[str, Any]:
    """What `northstar serve`'s scheduler last did (its monitoring pass and the weekly digest),
    with the spec's settings, so the dashboard can show whether alerting is alive."""
    secrets = _secrets(spec)
    schedule = state.get("schedule") if isinstance(state.get("schedule"), dict) else {}
    last = schedule.get("monitor") if isinstance(schedule.get("monitor"), dict) else None
    monitor = None if last is None else {
        "last": last.get("last"), "error": _scrub(last.get("error"), secrets), "alerts": last.get("alerts")}
    settings = spec.alerts.digest
    digest = None
    if settings is not None and settings.channel:
        sent = schedule.get("digest") if isinstance(schedule.get("digest"), dict) else None
        digest = {"channel": settings.channel, "weekday": settings.weekday, "time": settings.time,
                  "last": None if sent is None else {
                      "slot": sent.get("slot"), "at": sent.get("at"), "status": sent.get("status"),
                      "error": _scrub(sent.get("error"), secrets)}}
    return {"every": spec.alerts.every, "monitor": monitor, "digest": digest}


def marks(project: Any, metric: str) -> dict[str, Any]:
    """The anomaly marks of a metric: for each scored complete period its value, expected value,
    interval and whether it is an anomaly, with the spec's first alert rule's settings."""
    from northstar.alerts import detect
    from northstar.alerts.rules import load_series, rules_of
    from northstar.alerts.scoring import score_metric  # in the metric's domain, with its counting noise

    spec = project.spec
    grain = spec.north_star.grain
    rule = rules_of(spec)[0]
    series = load_series(project, [metric])[metric]
    points = []
    for s in score_metric(project, metric, series, rule.min_history, sensitivity=rule.sensitivity):
        lower, upper = s.interval(rule.sensitivity)
        points.append({"period": s.period.isoformat(), "value": s.value, "expected": s.expected, "lower": lower,
                       "upper": upper, "score": s.score, "anomaly": s.is_anomaly(rule.sensitivity)})
    needed = detect.history_needed(grain, rule.min_history)
    return {"metric": metric, "grain": grain, "sensitivity": rule.sensitivity, "min_history": needed,
            "points": points}
