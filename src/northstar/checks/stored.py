"""A check report kept beside the spec, so the commands and pages of one day share it.

The data rules read the raw events (reach by segment, repeated events, which dimensions
describe customers): a few seconds per million events. The report depends only on the spec,
the data and the day (some rules look at how old the North Star is), so it is stored in the
result folder under a key of all three and of Northstar's code: `northstar refresh` computes it,
and `check`, the overview and the digest of the same data read it back. Not stored: a report
in which a rule failed (it may be a passing failure), reports over `table:` sources (their data
has no version Northstar can see), and anything the format below cannot give back exactly.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from northstar.checks.findings import CheckReport, Finding


def stored_report(project: Any, data: bool, only: Sequence[str], compute: Callable[[], CheckReport]) -> CheckReport:
    from northstar.engine.cache import data_version

    cache = project.engine.results
    version = data_version(project.spec, project.loaded.base_dir) if cache is not None and data else None
    if version is None:
        return compute()
    key = cache.hashed("check", project.spec.model_dump_json(), version, sorted(only), dt.date.today().isoformat())
    payload = cache.get_bytes(key)
    if payload is not None:
        try:
            return _decode(payload)
        except (ValueError, KeyError, TypeError):
            pass
    report = compute()
    if not any(f.evidence.get("evaluated") is False and "exception" in f.evidence for f in report.findings):
        try:
            cache.put_bytes(key, _encode(report))
        except TypeError:  # a value the format does not keep exactly: computed again next time
            pass
    return report


def _encode(report: CheckReport) -> bytes:
    body = {"project": report.project, "north_star": report.north_star, "rules_run": list(report.rules_run),
            "history": [dict(h) for h in report.history],
            "findings": [{"rule": f.rule, "severity": f.severity, "subject": f.subject, "message": f.message,
                          "fix": f.fix, "evidence": _plain(f.evidence)} for f in report.findings]}
    return json.dumps(body, allow_nan=True).encode()  # key order kept: evidence is shown in it


def _decode(payload: bytes) -> CheckReport:
    body = json.loads(payload)
    findings = tuple(Finding(f["rule"], f["severity"], f["subject"], f["message"], f["fix"], _back(f["evidence"]))
                     for f in body["findings"])
    return CheckReport(body["project"], body["north_star"], findings, tuple(body["rules_run"]),
                       tuple(dict(h) for h in body["history"]))


def _plain(value: Any) -> Any:
    """JSON with the types it lacks tagged, so they come back as they were (a NumPy number as the
    Python number of the same value); TypeError for any other type."""
    if value is None or isinstance(value, (bool, str)) or type(value) in (int, float):
        return value
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("a key that is not text")
        return {"__dict": {k: _plain(v) for k, v in value.items()}}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return {"__tuple": [_plain(v) for v in value]}
    if isinstance(value, dt.datetime):
        return {"__datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"__date": value.isoformat()}
    if hasattr(value, "dtype") and hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return _plain(value.item())  # a NumPy number: the same value as a Python one
    raise TypeError(f"{type(value).__name__} is not kept")


def _back(value: Any) -> Any:
    if isinstance(value, list):
        return [_back(v) for v in value]
    if isinstance(value, dict):
        if "__dict" in value:
            return {k: _back(v) for k, v in value["__dict"].items()}
        if "__tuple" in value:
            return tuple(_back(v) for v in value["__tuple"])
        if "__datetime" in value:
            return dt.datetime.fromisoformat(value["__datetime"])
        if "__date" in value:
            return dt.date.fromisoformat(value["__date"])
    return value
