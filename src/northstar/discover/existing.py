"""Candidates against the metrics a spec already has.

A candidate that computes the same thing as an existing metric (same kind, source, filter,
aggregation and expression, compared on parsed SQL) takes the existing metric's name, so
`discover` proposes `listening_minutes` rather than a duplicate `song_play_minutes`. A
candidate whose name is taken by a different metric is renamed; existing metrics are never
replaced.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from northstar.discover.propose import Candidate, Proposal
from northstar.spec.expressions import normal_sql
from northstar.spec.model import FUNNEL_STAGES, Spec

Signature = tuple[Any, ...]


def _formula(text: str) -> str:
    return re.sub(r"\s+", "", text)


def signature(body: dict[str, Any], entities: dict[str, str | None]) -> Signature:
    """What a metric computes, independent of its name, label and formatting."""
    kind = body.get("type") or ("formula" if "formula" in body else "aggregate")
    if kind == "formula":
        return ("formula", _formula(str(body["formula"])))
    source = body.get("source")
    if kind == "aggregate":
        expr = body.get("expr")
        if body.get("agg") == "count_distinct" and expr is None:
            expr = entities.get(str(source))
        return ("aggregate", source, normal_sql(body.get("where")), body.get("agg"), normal_sql(expr),
                bool(body.get("cumulative", False)))
    if kind == "retention":
        return ("retention", source, normal_sql(body.get("where")))
    return (kind, source, normal_sql(body.get("from")), normal_sql(body.get("to")), body.get("within"), normal_sql(body.get("where")))


def existing_metrics(spec: Spec) -> dict[str, dict[str, Any]]:
    """The spec's metrics as plain mappings (as they would be written)."""
    return {name: metric.model_dump(by_alias=True, exclude_defaults=True) | {"type": metric.type}
            for name, metric in spec.metrics.items()}


def _rename_refs(text: str, renames: dict[str, str]) -> str:
    return re.sub(r"[A-Za-z_][A-Za-z0-9_]*", lambda m: renames.get(m.group(0), m.group(0)), text)


def _renamed(cand: Candidate, renames: dict[str, str]) -> Candidate:
    body = dict(cand.body)
    if "formula" in body:
        body["formula"] = _rename_refs(body["formula"], renames)
    decomposition = _rename_refs(cand.decomposition, renames) if cand.decomposition else None
    return replace(cand, body=body, decomposition=decomposition)


def _free_name(name: str, taken: set[str]) -> str:
    index = 2
    while f"{name}_{index}" in taken:
        index += 1
    return f"{name}_{index}"


def reconcile(proposal: Proposal, spec: Spec | None) -> Proposal:
    """The proposal with candidates matched to (and kept apart from) the spec's metrics."""
    if spec is None:
        return proposal
    existing = existing_metrics(spec)
    entities = {name: source.entity for name, source in spec.sources.items()}
    by_signature = {signature(body, entities): name for name, body in existing.items()}
    renames: dict[str, str] = {}
    out: dict[str, Candidate] = {}
    ordered = sorted(proposal.candidates.values(), key=lambda c: "formula" in c.body)  # formulas after their parts
    taken = set(existing) | set(proposal.candidates)
    for cand in ordered:
        cand = _renamed(cand, renames)
        match = by_signature.get(signature(cand.body, entities))
        if match is not None:
            new = replace(cand, name=match, body=existing[match], existing=True)
        elif cand.name in existing:
            new = replace(cand, name=_free_name(cand.name, taken))
            taken.add(new.name)
        else:
            new = cand
        renames[cand.name] = new.name
        out.setdefault(new.name, new)
    out = {n: replace(c, decomposition=_rename_refs(c.decomposition, renames) if c.decomposition else None)
           for n, c in out.items()}
    name = lambda n: renames.get(n, n) if n else n  # noqa: E731
    funnel = {stage: name(proposal.funnel.get(stage)) for stage in FUNNEL_STAGES}
    return replace(proposal, candidates=out, north_star=name(proposal.north_star), users=name(proposal.users),
                   revenue=name(proposal.revenue), retention=name(proposal.retention), funnel=funnel)
