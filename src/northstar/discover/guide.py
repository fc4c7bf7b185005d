"""The guide: the 9 steps in order, each answered by an `Asker`.

An asker is either the answers file (`FileAsker`: an answer when the file has one, else the
proposal; `--yes` is a FileAsker without a file) or a person at a terminal (the CLI's
interactive asker). Each step shows its evidence, asks with the proposal as the default and
parses the answer; the result is the `Decisions` that `plan.py` turns into spec changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from northstar.discover import evidence, parse
from northstar.discover.answers import Answers, KeyPath
from northstar.discover.existing import reconcile
from northstar.discover.profile import DataProfile, profile_data
from northstar.discover.propose import Candidate, Proposal, core_event, customer_value_template, \
    external_dimensions, propose
from northstar.discover.steps import DEFAULT_CHANGE_FREQUENCY, Step, step
from northstar.discover.setup import Setup, custom_metrics
from northstar.spec.model import FUNNEL_STAGES

T = TypeVar("T")
Lines = Callable[[], list[str]]


class Asker(Protocol):
    def show(self, step: Step | None, title: str, lines: Lines) -> None: ...

    def ask(self, path: KeyPath, prompt: str, default: str, parse: Callable[[Any], T]) -> T: ...


class FileAsker:
    """Answers from a file; a step the file does not answer takes the proposal."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers

    def show(self, step: Step | None, title: str, lines: Lines) -> None:
        """Nothing to show: nobody is reading."""

    def ask(self, path: KeyPath, prompt: str, default: str, parse: Callable[[Any], T]) -> T:
        if self.answers.has(path):
            try:
                return parse(self.answers.get(path))
            except ValueError as exc:
                raise self.answers.error(path, str(exc)) from None
        return parse(default)


@dataclass(frozen=True)
class Decisions:
    """Every answer, resolved: what the spec will say."""

    project: str
    profile: DataProfile
    source: str
    reuse_source: bool
    job: str
    end_result: str | None
    target_group: str | None
    proposal: Proposal
    north_star: str
    grain: str
    external: list[str]
    revenue: str | None
    funnel: dict[str, str | None]
    change_frequency: str
    change_reason: str | None = None
    custom: dict[str, dict[str, Any]] = field(default_factory=dict)


def _columns(setup: Setup, asker: Asker, profile: DataProfile) -> DataProfile:
    """Confirm or fix the timestamp, entity and event columns; profile again if they changed.

    A source the spec already has keeps its timestamp and entity; only the event column is asked.
    """
    names = list(profile.columns)
    asker.show(None, "Your data", lambda: evidence.data_summary(profile))
    chosen: dict[str, str | None] = dict(setup.source_columns())
    if setup.reuse_source is None:
        chosen["timestamp"] = asker.ask(("columns", "timestamp"), "Timestamp column (when each event happened)",
                                        profile.timestamp or "none", parse.choice(names, "a column", allow_none=True))
        chosen["entity"] = asker.ask(("columns", "entity"), "Entity column (who acted: user, customer, account)",
                                     profile.entity or "none", parse.choice(names, "a column", allow_none=True))
        if not chosen["timestamp"]:
            raise setup.answers.error(("columns", "timestamp"), f"found no timestamp column in {setup.data}: name "
                                      "the column saying when each event happened under `columns: {timestamp: ...}`")
    texts = [n for n in names if profile.columns[n].kind == "string"]
    chosen["event"] = asker.ask(("columns", "event"), "Event-name column (or none)", profile.event_column or "none",
                                parse.choice(texts, "a text column", allow_none=True))
    current = {"timestamp": profile.timestamp, "entity": profile.entity, "event": profile.event_column}
    if all(current[role] == value for role, value in chosen.items()):
        return profile
    return profile_data(setup.data, chosen)


def _forbidden_as_north_star(setup: Setup, proposal: Proposal) -> dict[str, str]:
    money = [n for n, c in proposal.candidates.items() if c.is_revenue or c.role == "money"]
    money += setup.existing_revenue_metrics()
    return {n: f"'{n}' is money customers pay, not value they get: the North Star must not be revenue "
               "(pick what customers get; step 7 names the revenue metric)" for n in money}


def run_guide(setup: Setup, asker: Asker) -> Decisions:
    """Ask the 9 steps (after the data's columns) and return the decisions."""
    profile = _columns(setup, asker, setup.profile())
    project = asker.ask(("project",), "Project name", setup.default_project(), parse.text)
    events = profile.event_values
    s = step("job")
    asker.show(s, s.title, lambda: evidence.event_list(profile))
    proposed_core = core_event(profile)
    job = asker.ask(("job",), s.question, setup.existing_value("customer_value")
                    or customer_value_template(profile, proposed_core), parse.text)
    s = step("end_result")
    asker.show(s, s.title, lambda: evidence.event_list(profile) if events else ["no event column: every row counts"])
    end_result = asker.ask(("end_result",), s.question, proposed_core or "none",
                           parse.choice(events, f"an event of column '{profile.event_column}'", allow_none=True)
                           if events else _no_events)
    s = step("segments_ok")
    asker.show(s, s.title, lambda: evidence.segment_reach(profile, end_result))
    segments_ok = asker.ask(("segments_ok",), s.question, "yes", parse.boolean)
    target = None
    if not segments_ok:
        target = asker.ask(("target_group",), "Which customers is it for? A filter over the columns "
                           "(e.g. plan = 'premium'), or none", "none", parse.sql_filter(profile.columns))
    proposal = reconcile(propose(profile, setup.source_name, end_result, target), setup.existing_spec)
    custom = custom_metrics(setup, profile)
    for name, body in custom.items():
        proposal.candidates[name] = Candidate(name, body, "defined in the answers file", "custom")
    options = [c.name for c in proposal.north_star_options()][:15]
    s = step("north_star")
    asker.show(s, s.title, lambda: _option_lines(proposal, options))
    known = [*proposal.candidates, *setup.existing_names()]
    north_star = asker.ask(("north_star",), s.question, setup.existing_north_star() or proposal.north_star or options[0],
                           parse.metric(known, options, forbidden=_forbidden_as_north_star(setup, proposal)))
    s = step("grain")
    asker.show(s, s.title, lambda: evidence.span_note(profile))
    grain = asker.ask(("grain",), s.question, setup.existing_value("grain") or "week", parse.grain)
    dims = setup.dimensions(profile)
    s = step("external")
    asker.show(s, s.title, lambda: evidence.concentration(profile, end_result, dims))
    default_ext = setup.existing_external()
    external = asker.ask(("external",), s.question + " (comma-separated, or none)",
                         ", ".join(default_ext if default_ext is not None else external_dimensions(dims)) or "none",
                         parse.names(dims, "a dimension of the data"))
    s = step("revenue")
    asker.show(s, s.title, lambda: [f"proposed: {proposal.revenue} = {proposal.candidates[proposal.revenue].what}"]
               if proposal.revenue else ["no money column or payment-like event found"])
    revenue = asker.ask(("revenue",), s.question + " (a metric, or none)",
                        (setup.existing_revenue_metrics() or [proposal.revenue or "none"])[0],
                        parse.metric(known, allow_none=True, forbidden={north_star: "the North Star cannot be the "
                                                                        "revenue metric: value is not money"}))
    funnel = _funnel(setup, asker, proposal, known, revenue)
    s = step("change_frequency")
    asker.show(s, s.title, lambda: setup.history_lines())
    change = asker.ask(("change_frequency",), s.question, DEFAULT_CHANGE_FREQUENCY, parse.text)
    reason = None
    old = setup.existing_north_star()
    if old and old != north_star:
        reason = asker.ask(("change_reason",), f"Why does {north_star} replace {old}? (kept in north_star.history)",
                           f"{north_star} measures the value customers get better than {old}", parse.text)
    return Decisions(project, profile, setup.source_name, setup.reuse_source is not None, job, end_result, target,
                     proposal, north_star, grain, external, revenue, funnel, change, reason, custom)


def _no_events(value: Any) -> str | None:
    if parse.is_none(value):
        return None
    raise ValueError("the data has no event-name column, so no event can mark the end result; "
                     "answer null, or name the column under `columns: {event: ...}`")


def _option_lines(proposal: Proposal, options: list[str]) -> list[str]:
    lines = []
    for i, name in enumerate(options, 1):
        cand = proposal.candidates[name]
        mark = "  (in your spec)" if cand.existing else ""
        lines.append(f"{i:>3}. {name:<30} {cand.what}{mark}")
    return lines


def _funnel(setup: Setup, asker: Asker, proposal: Proposal, known: list[str], revenue: str | None) -> dict[str, str | None]:
    s = step("funnel")
    asker.show(s, s.title, lambda: [f"{stage}: proposed {proposal.funnel.get(stage) or 'none'}" for stage in FUNNEL_STAGES])
    existing = setup.existing_funnel()
    out: dict[str, str | None] = {}
    for stage in FUNNEL_STAGES:
        default = existing[stage] if existing is not None else (revenue if stage == "revenue" else proposal.funnel.get(stage))
        out[stage] = asker.ask(("funnel", stage), f"{stage.capitalize()}: which metric measures it (or none)?",
                               default or "none", parse.metric(known, allow_none=True))
    return out

