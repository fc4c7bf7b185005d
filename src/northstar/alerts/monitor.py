"""`northstar monitor`: one pass of the alert rules (for cron or CI), or a backtest over history.

A live pass evaluates each watched metric at its last complete period, groups the alerts of
each rule into messages (the NSM and the input that caused it in one), drops what the
cooldown holds back (an event of the same kind on the same metric delivered within
`cooldown`, or this very event delivered before) and what falls in the rule's quiet hours
(it is sent by the first run after them), and delivers the rest to the rule's channels
through `northstar.alerts.delivery.deliver`. Delivery failures are recorded in the state
and reported; they are not failures of the run. A pass is `plan` (the computing half, which
needs the engine) then `dispatch` (the sending half, which does not), so `serve` can send
outside the dashboard's computation lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from northstar.alerts.grouping import group
from northstar.alerts.manage import holds, reminder
from northstar.alerts.model import Alert, AlertMessage
from northstar.alerts.rules import Fired, evaluate, rules_of
from northstar.spec.model import AlertRule, parse_duration, parse_quiet_hours

log = logging.getLogger("northstar.alerts.monitor")


@dataclass
class Outgoing:
    message: AlertMessage
    rule: int  # the index of its rule among the whole spec's rules (`all_rules`), whichever North Star fired it
    channels: tuple[str, ...]
    status: str = "ready"  # ready | printed | sent | failed | pending | cooldown | quiet hours | snoozed
    #                        | acknowledged | dry run | backtest
    deliveries: list[Any] = field(default_factory=list)


@dataclass
class MonitorResult:
    alerts: list[Alert]
    outgoing: list[Outgoing]
    backtest: bool = False
    review: Any = None  # the review period (`Project.review_period`): the one every command names
    silenced: list[Any] = field(default_factory=list)  # alerts an expected annotation held (`alerts/expected.py`)
    reviews: dict[str, Any] = field(default_factory=dict)  # a pass over several North Stars: each one's review period

    @property
    def messages(self) -> list[AlertMessage]:
        return [o.message for o in self.outgoing]

    def to_dict(self) -> dict[str, Any]:
        return {"backtest": self.backtest, "review": self.review.to_dict() if self.review is not None else None,
                "alerts": [a.to_dict() for a in self.alerts],
                "messages": [{**o.message.to_dict(), "id": _lead(o.message), "rule": o.rule, "channels": list(o.channels),
                              "status": o.status,
                              "deliveries": [_delivery_dict(d) for d in o.deliveries]} for o in self.outgoing],
                **({"silenced": [x.to_dict() for x in self.silenced]} if self.silenced else {}),
                **({"reviews": {name: r.to_dict() if r is not None else None for name, r in self.reviews.items()}}
                   if self.reviews else {})}


def _lead(message: AlertMessage) -> str:
    """The id users snooze or acknowledge a message by: the key of its first alert."""
    return message.alerts[0].key if message.alerts else message.key


def _delivery_dict(d: Any) -> dict[str, Any]:
    if hasattr(d, "to_dict"):
        return d.to_dict()
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in getattr(d, "__dict__", {}).items()}


def state_path(project: Any) -> Path:
    path = Path(project.spec.alerts.state)
    return path if path.is_absolute() else project.path.parent / path


def load_state(path: Path) -> Any:
    """The delivery state on disk (empty when there is none yet or it is unreadable)."""
    from northstar.alerts.delivery import load_state as load

    return load(path)


def delivered_times(state: Any) -> dict[str, dt.datetime]:
    """message key -> the last time it was delivered, read from a state of any nesting."""
    out: dict[str, dt.datetime] = {}

    def note(key: Any, at: Any) -> None:
        when = at if isinstance(at, dt.datetime) else _parse_time(at)
        if isinstance(key, str) and when is not None and (key not in out or when > out[key]):
            out[key] = when

    def walk(node: Any, key: Any = None) -> None:
        if isinstance(node, dict):
            status = node.get("status")
            if status == "delivered":
                note(node.get("message_key", key), node.get("at"))
            for k, v in node.items():
                walk(v, node.get("message_key", k if isinstance(k, str) and ":" in k else key))
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v, key)
        elif hasattr(node, "status") and getattr(node, "status") == "delivered":
            note(getattr(node, "message_key", key), getattr(node, "at", None))

    walk(state)
    return out


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def family(key: str) -> str:
    """`kind:metric` of an alert key `kind:metric:period`."""
    return key.rsplit(":", 1)[0]


def in_quiet_hours(rule: AlertRule, now: dt.datetime, timezone: str) -> bool:
    if not rule.quiet_hours:
        return False
    start, end = parse_quiet_hours(rule.quiet_hours)
    local = now.astimezone(zoneinfo.ZoneInfo(timezone)).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def cooled(message: AlertMessage, rule: AlertRule, sent: dict[str, dt.datetime], now: dt.datetime) -> bool:
    """True when the cooldown holds the message back."""
    if message.key in sent:
        return True
    window = parse_duration(rule.cooldown)
    families = {family(a.key) for a in message.alerts}
    return any(family(key) in families and now - at < window for key, at in sent.items())


def all_rules(spec: Any) -> tuple[AlertRule, ...]:
    """The whole spec's alert rules, whichever North Star `spec` is seen from (`Outgoing.rule`
    indexes these: a view of one North Star has only the rules that serve it)."""
    return rules_of(getattr(spec, "_every_north_star", None) or spec)


def _whole_index(spec: Any, rule: AlertRule) -> int:
    rules = all_rules(spec)
    return next((i for i, r in enumerate(rules) if r is rule), 0)  # the default rule: index 0


def views(project: Any, every: bool) -> list[Any]:
    """The projects a pass evaluates: with `every` and several North Stars, one per North Star,
    the primary first; else `project` alone."""
    names = project.spec.north_star_names
    if not every or len(names) < 2:
        return [project]
    return [project.for_north_star(name) for name in names]


def _messages(project: Any, fired: list[Fired]) -> list[Outgoing]:
    from northstar.alerts.expected import with_during

    rules = rules_of(project.spec)
    out: list[Outgoing] = []
    for index, rule in enumerate(rules):
        alerts = with_during(project, [f.alert for f in fired if f.rule == index])
        for message in group(project.spec, alerts):
            out.append(Outgoing(message, _whole_index(project.spec, rule), tuple(rule.channels)))
    return out


def _evaluated(project: Any, every: bool, start: dt.date | None, explain: bool) -> MonitorResult:
    """The alerts of each North Star the pass covers (`views`), grouped in messages: an alert a
    North Star before it already fired (a shared metric, a shared guardrail) is not repeated."""
    alerts: list[Alert] = []
    outgoing: list[Outgoing] = []
    silenced: list[Any] = []
    reviews: dict[str, Any] = {}
    for view in views(project, every):
        fired, quiet = _silence(view, evaluate(view, start=start, explain=explain))
        seen = {a.key for a in alerts}
        fired = [f for f in fired if f.alert.key not in seen]
        alerts += _unique(fired)
        outgoing += _messages(view, fired)
        silenced += [x for x in quiet if x.alert.key not in {y.alert.key for y in silenced}]
        reviews[view.north_star_name or view.spec.north_star.metric] = _review(view)
    review = next(iter(reviews.values()), None)
    return MonitorResult(alerts, outgoing, backtest=start is not None, review=review, silenced=silenced,
                         reviews=reviews if len(reviews) > 1 else {})


def _silence(project: Any, fired: list[Fired]) -> tuple[list[Fired], list[Any]]:
    """The alerts kept and those an expected annotation silences (`alerts/expected.py`)."""
    from northstar.alerts.expected import expected_annotations, silence

    expected = expected_annotations(project)
    if not expected:
        return fired, []
    kept, silenced = silence(project, [f.alert for f in fired], expected)
    keep = {id(a) for a in kept}
    return [f for f in fired if id(f.alert) in keep], list({x.alert.key: x for x in silenced}.values())


def _unique(fired: list[Fired]) -> list[Alert]:
    return list({f.alert.key: f.alert for f in fired}.values())


def run(project: Any, now: dt.datetime | None = None, dry_run: bool = False, explain: bool = True,
        every: bool = False) -> MonitorResult:
    """One pass: evaluate, group, apply cooldown and quiet hours, deliver (unless `dry_run`).
    `every`: watch every North Star of the spec (`views`), not only the one `project` is for."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return dispatch(project, plan(project, now, dry_run, explain, every), now, dry_run)


def plan(project: Any, now: dt.datetime, dry_run: bool = False, explain: bool = True,
         every: bool = False) -> MonitorResult:
    """The computing half of a pass (it needs the engine): the alerts, grouped in messages, each
    marked `ready` to send or why not (no channel, cooldown, quiet hours, dry run)."""
    result = _evaluated(project, every, None, explain)
    outgoing = result.outgoing
    rules = all_rules(project.spec)
    state = load_state(state_path(project))
    sent = delivered_times(state)
    held = holds(state, now) if isinstance(state, dict) else {}
    for item in outgoing:
        rule = rules[item.rule]
        hold = held.get(family(item.message.key))
        if hold is not None and hold[0] != "snooze ended":
            item.status = hold[0]  # snoozed | acknowledged: said even where it would only be printed
        elif not item.channels:
            item.status = "printed"
        elif hold is None and cooled(item.message, rule, sent, now):
            item.status = "cooldown"
        elif in_quiet_hours(rule, now, project.spec.timezone):
            item.status = "quiet hours"
        elif dry_run:
            item.status = "dry run"
        if hold is not None and hold[0] == "snooze ended" and item.message.key in sent and hold[2] is not None:
            item.message = reminder(item.message, hold[2])  # sent again once the snooze is over
    return result


def dispatch(project: Any, result: MonitorResult, now: dt.datetime, dry_run: bool = False) -> MonitorResult:
    """The sending half of a pass (no engine: `serve` runs it outside the dashboard's computation
    lock): deliver the `ready` messages, send again what earlier runs left, record the alerts."""
    rules = all_rules(project.spec)
    path = state_path(project)
    ready = [o for o in result.outgoing if o.status == "ready"]
    tried: set[str] = set()
    if ready:
        from northstar.alerts.delivery import deliver

        for index, rule in enumerate(rules):
            batch = [o for o in ready if o.rule == index]
            if not batch:
                continue
            channels = {name: project.spec.alerts.channels[name] for name in rule.channels}
            deliveries = deliver([o.message for o in batch], channels, path, now)
            tried.update(channels)
            for o in batch:
                o.deliveries = [d for d in deliveries if getattr(d, "message_key", None) == o.message.key]
                states = {getattr(d, "status", None) for d in o.deliveries}
                o.status = "failed" if "failed" in states else ("pending" if "pending" in states else "sent")
    if not dry_run:
        _finish_earlier(project, path, now, tried)
        _record(path, result.outgoing, now)
        _settle(path, result, now)
    return result


def _settle(path: Path, result: MonitorResult, now: dt.datetime) -> None:
    """End the snoozes and acknowledgements this pass finished (`manage.settle`)."""
    from northstar.alerts.manage import settle

    handed = [o.message.key for o in result.outgoing if o.status in ("sent", "failed", "pending")]
    try:
        settle(path, [a.key for a in result.alerts], handed, now)
    except OSError as exc:
        log.warning("alerts: could not update the snoozes in %s: %s", path, exc.strerror or exc)


def _review(project: Any) -> Any:
    try:
        return project.review_period()
    except Exception:  # noqa: BLE001 - no data: the pass still reports what it found
        return None


def _finish_earlier(project: Any, path: Path, now: dt.datetime, tried: set[str]) -> None:
    """Send again what earlier runs left pending or failed on a retryable error, on the channels
    this pass did not deliver to (`deliver` retries those itself): a digest whose channel is in no
    rule, or an alert whose rule fired nothing new this pass."""
    state = load_state(path)
    waiting = {e.get("channel") for e in (state.get("deliveries") or {}).values() if isinstance(e, dict)
               and (e.get("status") == "pending" or (e.get("status") == "failed" and e.get("retryable")))}
    channels = {name: config for name, config in project.spec.alerts.channels.items()
                if name in waiting and name not in tried}
    if channels:
        from northstar.alerts.delivery import deliver

        deliver([], channels, path, now)


def _record(path: Path, outgoing: list[Outgoing], now: dt.datetime) -> None:
    """Keep the pass's alerts in the state, for the dashboard (never a failure of the run)."""
    from northstar.alerts import history

    try:
        history.record(path, [(a, o.message.key) for o in outgoing for a in o.message.alerts], now)
    except OSError as exc:
        log.warning("alerts: could not record the alerts in %s: %s", path, exc.strerror or exc)


def backtest(project: Any, start: dt.date, explain: bool = True, every: bool = False) -> MonitorResult:
    """Replay history from `start`: the alerts that would have fired, grouped as they would have
    been sent (cooldown and quiet hours, which depend on when runs happen, are not applied)."""
    result = _evaluated(project, every, start, explain)
    for o in result.outgoing:
        o.status = "backtest"
    return result


def render_text(result: MonitorResult) -> str:
    preface = ""
    reviews = result.reviews or ({"": result.review} if result.review is not None else {})
    together: dict[tuple, list[tuple[str, Any]]] = {}  # North Stars with the same review period: one line
    for name, review in reviews.items() if not result.backtest else ():
        if review is not None:
            together.setdefault((review.grain, review.period, review.why), []).append((name, review))
    for (grain, period, why), items in together.items():
        names = ", ".join(name for name, _ in items if name)
        provisional = {m: d for _, review in items for m, d in review.provisional.items()}
        preface += f"Review period{f' ({names})' if names else ''}: the {grain} of {period.isoformat()} ({why})"
        if provisional:
            preface += "; provisional there, so not judged yet: " + ", ".join(
                f"{m} (until the data reaches {d.isoformat()})" for m, d in provisional.items())
        preface += "\n"
    preface += "\n" if preface else ""
    quiet = "".join(f"\nsilenced {x.alert.key}: {x.alert.title} (expected: {x.annotation.words()}, id "
                    f"{x.annotation.id})" for x in result.silenced)
    if not result.outgoing:
        return preface + "no alerts" + (" would have fired" if result.backtest else "") + quiet
    blocks = []
    for o in result.outgoing:
        head = f"== {o.message.title}"
        if o.channels and not result.backtest:
            head += f"  [{o.status}: {', '.join(o.channels)}]"
        elif o.status in ("snoozed", "acknowledged"):
            head += f"  [{o.status}]"
        head += f"  (id {_lead(o.message)})"
        blocks.append(head + "\n" + o.message.text)
    n, m = len(result.alerts), len(result.outgoing)
    tail = f"{n} alert{'s' if n != 1 else ''} in {m} message{'s' if m != 1 else ''}"
    return preface + "\n\n".join(blocks) + "\n\n" + tail + (" (backtest)" if result.backtest else "") + quiet


def digest(project: Any, findings: bool = True, lang: str | None = None, every: bool = False) -> AlertMessage:
    """The weekly review: the North Star, its change and why, the OMTMs, the guardrails and the
    top findings of `northstar check`, as one message in `lang` (default: `alerts.digest.lang`);
    `every`: of each North Star of the spec, the primary first."""
    from northstar.alerts.digest import digest as build

    return build(project, findings=findings, lang=lang, every=every)
