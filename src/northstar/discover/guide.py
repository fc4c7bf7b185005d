"""The guide: the 9 steps in order, each answered by an `Asker`.

An asker is either the answers file (`FileAsker`: an answer when the file has one, else the
proposal; `--yes` is a FileAsker without a file) or a person at a terminal (the CLI's
interactive asker). Each step shows its evidence, asks with the proposal as the default and
parses the answer; the result is the `Decisions` that `plan.py` turns into spec changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from northstar.discover import evidence, parse
from northstar.discover.answers import Answers, KeyPath
from northstar.discover.existing import reconcile
from northstar.discover.grain import GrainChoice, propose_grain
from northstar.discover.inputs import Sources, gather
from northstar.discover.profile import DataProfile
from northstar.discover.propose import Candidate, Proposal, core_event, customer_value_template, \
    external_dimensions, propose
from northstar.discover.setup import Setup, custom_metrics
from northstar.discover.steps import DEFAULT_CHANGE_FREQUENCY, Step, step
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
        try:
            return parse(default)
        except ValueError as exc:
            raise self.answers.error(path, f"no answer, and the proposal '{default}' does not fit ({exc}); "
                                     "answer it") from None


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
    new_sources: tuple[tuple[str, dict[str, Any]], ...] = ()  # sources to add, in order
    others: tuple[str, ...] = ()  # the metrics proposed for the files the steps do not run on
    notes: tuple[str, ...] = ()  # what was left out or could not be found, one sentence each


class _Guide:
    """The steps in order; each method asks one step and records its answer."""

    def __init__(self, setup: Setup, asker: Asker, sources: Sources) -> None:
        self.setup, self.asker, self.sources = setup, asker, sources
        self.profile: DataProfile = sources.profile
        self.answers: dict[str, Any] = {}
        self.others: dict[str, Candidate] = {}

    def show(self, key: str, lines: Lines) -> Step:
        s = step(key)
        self.asker.show(s, s.title, lines)
        return s

    def job(self) -> None:
        s = self.show("job", lambda: ["what customers do most:"] + evidence.event_list(self.profile, limit=5))
        default = self.setup.existing_value("customer_value") or customer_value_template(self.profile,
                                                                                          core_event(self.profile))
        self.answers["job"] = self.asker.ask(("job",), s.question, default, parse.text)

    def end_result(self) -> None:
        events, column = self.profile.event_values, self.profile.event_column
        s = self.show("end_result", lambda: evidence.event_list(self.profile) if events
                      else ["no event column: every row counts"])
        parser = parse.choice(events, f"an event of column '{column}'", allow_none=True) if events else _no_events
        default = core_event(self.profile)
        self.answers["end_result"] = self.asker.ask(("end_result",), s.question, default or "none", parser)

    def segments(self) -> None:
        s = self.show("segments_ok", lambda: evidence.segment_reach(self.profile, self.answers["end_result"]))
        ok = self.asker.ask(("segments_ok",), s.question, "yes", parse.boolean)
        answers = self.setup.answers
        if ok and answers.has(("target_group",)) and answers.get(("target_group",)) is not None:
            raise answers.error(("target_group",), "a target group narrows a North Star that does not hold for all "
                                "customers: answer `segments_ok: false` with it, or remove it")
        self.answers["target_group"] = None if ok else self.asker.ask(
            ("target_group",), "Which customers is it for? A filter over the columns (e.g. plan = 'premium'), "
            "or none", "none", parse.sql_filter(self.profile.columns))

    def propose(self) -> None:
        profile, setup, primary = self.profile, self.setup, self.sources.primary
        proposal = propose(profile, primary, self.answers["end_result"], self.answers["target_group"])
        others, stages = self.sources.other_candidates(set(proposal.candidates) | set(setup.existing_names()))
        proposal.candidates.update(others)
        for stage, name in stages.items():
            if not proposal.funnel.get(stage):
                proposal.funnel[stage] = name
        if proposal.revenue is None and "revenue" in stages:
            proposal = replace(proposal, revenue=stages["revenue"])
        proposal = reconcile(proposal, setup.existing_spec)
        self.others = {n: c for n, c in proposal.candidates.items() if c.body.get("source") in self.sources.profiles
                       and c.body.get("source") != primary and not c.existing}
        self.answers["custom"] = custom_metrics(setup, self.sources.all_profiles(), primary)
        for name, body in self.answers["custom"].items():
            proposal.candidates[name] = Candidate(name, body, "defined in the answers file", "custom")
        self.proposal = proposal
        self.known = list(dict.fromkeys([*proposal.candidates, *setup.existing_names()]))

    def north_star(self) -> None:
        options = [c.name for c in self.proposal.north_star_options()][:15]
        s = self.show("north_star", lambda: _option_lines(self.proposal, options))
        forbidden = self.money_metrics()
        existing = self.setup.existing_north_star()
        default = existing if existing and existing not in forbidden else self.proposal.north_star or options[0]
        self.answers["north_star"] = self.asker.ask(("north_star",), s.question, default,
                                                    parse.metric(self.known, options, forbidden=forbidden))

    def money_metrics(self) -> dict[str, str]:
        money = [n for n, c in self.proposal.candidates.items() if c.is_revenue or c.role == "money"]
        money += self.setup.existing_revenue_metrics()
        return {n: f"'{n}' is money customers pay, not value they get: the North Star must not be revenue "
                   "(pick what customers get; step 7 names the revenue metric)" for n in money}

    def grain(self) -> None:
        choice = self.grain_choice()
        s = self.show("grain", lambda: evidence.span_note(self.profile) + choice.lines())
        self.answers["grain"] = self.asker.ask(("grain",), s.question, self.setup.existing_value("grain") or
                                               choice.grain, parse.grain)

    def grain_choice(self) -> GrainChoice:
        """The grain the data supports for the chosen North Star (week when it cannot be computed)."""
        cand = self.proposal.candidates.get(self.answers["north_star"])
        on_profile = cand is not None and cand.body.get("source") == self.sources.primary
        return propose_grain(self.profile, cand.body if on_profile and cand is not None else None)

    def external(self) -> None:
        dims = self.setup.dimensions(self.profile, self.sources.primary_reused)
        s = self.show("external", lambda: evidence.concentration(self.profile, self.answers["end_result"], dims))
        existing = self.setup.existing_external()
        default = ", ".join(existing if existing is not None else external_dimensions(tuple(dims))) or "none"
        self.answers["external"] = self.asker.ask(("external",), s.question + " (comma-separated, or none)", default,
                                                  parse.names(dims, "a dimension of the data"))

    def revenue(self) -> None:
        proposed = self.proposal.revenue
        s = self.show("revenue", lambda: [f"proposed: {proposed} = {self.proposal.candidates[proposed].what}"]
                      if proposed else ["no money column or payment-like event found"])
        default = (self.setup.existing_revenue_metrics() or [proposed or "none"])[0]
        nsm = self.answers["north_star"]
        parser = parse.metric(self.known, allow_none=True,
                              forbidden={nsm: "the North Star cannot be the revenue metric: value is not money"})
        self.answers["revenue"] = self.asker.ask(("revenue",), s.question + " (a metric, or none)", default, parser)

    def funnel(self) -> None:
        proposal = self.proposal
        self.show("funnel", lambda: [f"{stage}: proposed {proposal.funnel.get(stage) or 'none'}"
                                     for stage in FUNNEL_STAGES])
        existing = self.setup.existing_funnel()
        funnel: dict[str, str | None] = {}
        for stage in FUNNEL_STAGES:
            proposed = self.answers["revenue"] if stage == "revenue" else proposal.funnel.get(stage)
            default = existing[stage] if existing is not None else proposed
            funnel[stage] = self.asker.ask(("funnel", stage), f"{stage.capitalize()}: which metric measures it "
                                           "(or none)?", default or "none", parse.metric(self.known, allow_none=True))
        self.answers["funnel"] = funnel

    def stability(self) -> None:
        s = self.show("change_frequency", self.setup.history_lines)
        self.answers["change_frequency"] = self.asker.ask(("change_frequency",), s.question, DEFAULT_CHANGE_FREQUENCY,
                                                          parse.text)
        old, new = self.setup.existing_north_star(), self.answers["north_star"]
        self.answers["change_reason"] = None if not old or old == new else self.asker.ask(
            ("change_reason",), f"Why does {new} replace {old}? (kept in north_star.history)",
            f"{new} measures the value customers get better than {old}", parse.text)


def run_guide(setup: Setup, asker: Asker) -> Decisions:
    """Ask the data's columns, the project's name and the 9 steps; return the decisions."""
    sources = gather(setup, asker)
    project = asker.ask(("project",), "Project name", setup.default_project(), parse.text)
    guide = _Guide(setup, asker, sources)
    for ask in (guide.job, guide.end_result, guide.segments, guide.propose, guide.north_star, guide.grain,
                guide.external, guide.revenue, guide.funnel, guide.stability):
        ask()
    a = guide.answers
    return Decisions(project, sources.profile, sources.primary, sources.primary_reused, a["job"], a["end_result"],
                     a["target_group"], guide.proposal, a["north_star"], a["grain"], a["external"], a["revenue"],
                     a["funnel"], a["change_frequency"], a["change_reason"], a["custom"],
                     tuple(sources.new_sources(setup)), tuple(guide.others), sources.notes)


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
