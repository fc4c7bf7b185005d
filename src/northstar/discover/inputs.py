"""The sources discover writes: each input file profiled (its columns confirmed), the union
of the files that record what the same people do, and the one the 9 steps run on.

One file is one source, as always. Several files (`--data` given more than once, or a glob
of different files) are each a source named after the file; the files whose rows are actions
of one kind of entity are combined into a `sql:` source (combine.py), which the steps then
run on: its distinct entities are the contributors. Without such a union the steps run on
the file that best records actions (an entity, a time, most rows); the other files each get
the metric discover proposes for them, and a file of the entities themselves (Users.csv) is
the funnel's acquisition stage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from northstar.discover import evidence, parse
from northstar.discover.combine import Union, combine, union_note, why_not_member
from northstar.discover.guess import is_time_named
from northstar.discover.profile import DataProfile
from northstar.discover.propose import Candidate, core_event, propose
from northstar.discover.setup import DataInput, Setup, column_answers_path, free_name
from northstar.discover.steps import COLUMN_KEYS
from northstar.spec.presets import PRESETS, recognise
from northstar.spec.suggest import did_you_mean

UNION_NAME = "activity"


@dataclass(frozen=True)
class Sources:
    """Every input's profile (by source name), the union if any, and the source the steps use."""

    inputs: dict[str, DataInput]
    profiles: dict[str, DataProfile]
    union: Union | None
    union_reused: bool
    primary: str
    notes: tuple[str, ...]

    @property
    def profile(self) -> DataProfile:
        return self.union.profile if self.union is not None and self.primary == self.union.name else \
            self.profiles[self.primary]

    @property
    def primary_reused(self) -> bool:
        if self.union is not None and self.primary == self.union.name:
            return self.union_reused
        return self.inputs[self.primary].reuse_source is not None

    def all_profiles(self) -> dict[str, DataProfile]:
        """Profiles by source name, the union's included (for checking metrics' columns)."""
        return {**self.profiles, **({self.union.name: self.union.profile} if self.union else {})}

    def new_sources(self, setup: Setup) -> list[tuple[str, dict[str, Any]]]:
        """The sources to add to the spec, files first, then the union that reads them."""
        out = [(name, file_source_body(setup, self.inputs[name], profile)) for name, profile in self.profiles.items()
               if self.inputs[name].reuse_source is None]
        if self.union is not None and not self.union_reused:
            out.append((self.union.name, self.union.body()))
        return out

    def other_candidates(self, taken: set[str]) -> tuple[dict[str, Candidate], dict[str, str]]:
        """The metric proposed for each file the steps do not run on (votes, users with badges,
        new users), and the funnel stages they fill: acquisition from a file of the entities
        (sign-ups), revenue from a file with a money column (order items' prices)."""
        members = set(self.union.members) if self.union else set()
        out: dict[str, Candidate] = {}
        stages: dict[str, str] = {}

        def add(cand: Candidate, source: str) -> str:
            if cand.name in taken or cand.name in out:
                name = cand.name if cand.name.startswith(source) else f"{source}_{cand.name}"
                cand = Candidate(free_name(name, taken | set(out)), cand.body, cand.what, cand.role, cand.event)
            out[cand.name] = cand
            return cand.name

        for name, profile in self.profiles.items():
            if name == self.primary or name in members or profile.timestamp is None:
                continue
            proposal = propose(profile, name, core_event(profile))
            if proposal.north_star is not None:
                added = add(proposal.candidates[proposal.north_star], name)
                if profile.entity_table:
                    stages.setdefault("acquisition", added)
            if proposal.revenue is not None:
                stages.setdefault("revenue", add(proposal.candidates[proposal.revenue], name))
        return out, stages


def file_source_body(setup: Setup, data: DataInput, profile: DataProfile) -> dict[str, Any]:
    """A file source: path relative to the spec, columns as profiled."""
    base = setup.spec_path.resolve().parent
    try:
        path = os.path.relpath(data.pattern, base)
    except ValueError:  # another drive (Windows)
        path = data.pattern
    body: dict[str, Any] = {"path": Path(path).as_posix()}
    preset = recognise(list(profile.columns))
    if preset is not None:
        return {**body, **preset_source_body(preset, profile)}
    if profile.timestamp:
        body["timestamp"] = profile.timestamp
    if profile.time_unit:
        body["time_unit"] = profile.time_unit
    if profile.entity:
        body["entity"] = profile.entity
    if profile.key:
        body["key"] = profile.key
    body["dimensions"] = list(profile.dimensions)
    return body


def preset_source_body(preset: str, profile: DataProfile) -> dict[str, Any]:
    """A file an event exporter wrote (its columns say which): `preset:` and only what differs
    from what the preset knows (a timestamp chosen otherwise; the entity is the preset's
    known-else-anonymous id)."""
    defaults = PRESETS[preset].defaults()
    body: dict[str, Any] = {"preset": preset}
    if profile.timestamp and profile.timestamp != defaults["timestamp"]:
        body["timestamp"] = profile.timestamp
        if profile.time_unit:
            body["time_unit"] = profile.time_unit
    dimensions = list(dict.fromkeys([*defaults["dimensions"], *profile.dimensions]))
    if dimensions != defaults["dimensions"]:
        body["dimensions"] = dimensions
    return body


def confirm_columns(setup: Setup, asker: Any, data: DataInput, profile: DataProfile) -> DataProfile:
    """Confirm or fix the timestamp, entity and event columns; profile again if they changed.

    A source the spec already has keeps its timestamp and entity; only the event column is asked.
    With several files each is asked in turn (`columns: {<source>: ...}` in the answers file).
    """
    names = list(profile.columns)
    of = f" of {data.source_name}" if setup.several else ""
    base = column_answers_path(setup, data.source_name)
    asker.show(None, f"Your data{of}", lambda: evidence.data_summary(profile) + list(profile.notes))
    chosen: dict[str, str | None] = dict(setup.source_columns(data))
    if data.reuse_source is None:
        chosen["timestamp"] = asker.ask(base + ("timestamp",), f"Timestamp column{of} (when each event happened)",
                                        profile.timestamp or "none", parse.choice(names, "a column", allow_none=True))
        chosen["entity"] = asker.ask(base + ("entity",), f"Entity column{of} (who acted: user, customer, account)",
                                     profile.entity or "none", parse.choice(names, "a column", allow_none=True))
        if not chosen["timestamp"] and not setup.several:
            raise setup.answers.error(base + ("timestamp",), no_timestamp(profile))
    events = [n for n in names if profile.columns[n].kind in ("string", "integer")]
    chosen["event"] = asker.ask(base + ("event",), f"Event-name column{of} (or none)", profile.event_column or "none",
                                parse.choice(events, "a text or integer column", allow_none=True))
    current = {"timestamp": profile.timestamp, "entity": profile.entity, "event": profile.event_column}
    if all(current[role] == value for role, value in chosen.items()):
        return profile
    return setup.profile(data, chosen)


def no_timestamp(profile: DataProfile) -> str:
    """Why no timestamp was found, naming the time columns that are too empty."""
    times = [c for c in profile.columns.values() if (c.kind == "temporal" or is_time_named(c.name))
             and c.non_null < profile.rows]
    seen = "; ".join(f"{c.name} is empty on {1 - c.filled(profile.rows):.0%} of the rows" for c in times[:3])
    return (f"found no timestamp column in {profile.path}" + (f" ({seen})" if seen else "") + ": name the column "
            "saying when each event happened under `columns: {timestamp: ...}`")


def _check_column_answers(setup: Setup, sources: list[str]) -> None:
    """With several files, `columns:` names sources (one-line errors otherwise)."""
    answers = setup.answers
    given = answers.get(("columns",))
    if not setup.several or not isinstance(given, dict):
        return
    for key in given:
        if key in COLUMN_KEYS:
            raise answers.error(("columns", key), "with several files, give the columns per source: `columns: "
                                f"{{{sources[0]}: {{{key}: ...}}}}` (sources: {', '.join(sources)})")
        if key not in sources:
            hint = did_you_mean(str(key), sources) or f" Sources: {', '.join(sources)}."
            raise answers.error(("columns", key), f"'{key}' is not a source of the data.{hint}")


def _primary(profiles: dict[str, DataProfile]) -> str:
    """The file that best records actions: a time, an entity that acts, rows with their own id
    (orders rather than their items), most rows."""
    return max(profiles, key=lambda n: (profiles[n].timestamp is not None, why_not_member(profiles[n]) is None,
                                        not profiles[n].entity_table, profiles[n].entity is not None,
                                        profiles[n].key is not None, profiles[n].rows))


def gather(setup: Setup, asker: Any) -> Sources:
    """Profile every input (columns confirmed), combine them, and pick the source of the steps."""
    inputs = {data.source_name: data for data in setup.inputs}
    _check_column_answers(setup, list(inputs))
    profiles = {name: confirm_columns(setup, asker, data, setup.profile(data)) for name, data in inputs.items()}
    if not any(p.timestamp for p in profiles.values()):
        first = next(iter(profiles.values()))
        raise setup.answers.error(column_answers_path(setup, next(iter(profiles))) + ("timestamp",),
                                  no_timestamp(first))
    union, notes, reused = None, [], False
    if setup.several:
        spec = setup.existing_spec
        taken = set(spec.sources) if spec else set()
        union, notes = combine(profiles, free_name(UNION_NAME, taken | set(profiles)))
        if union is not None and spec is not None:
            same = next((n for n, s in spec.sources.items() if s.sql and " ".join(s.sql.split()) == union.sql), None)
            if same is not None:
                union, reused = Union(same, union.sql, union.members, union.profile), True
        if union is not None:
            notes.append(union_note(union, profiles))
    primary = union.name if union is not None else _primary(profiles)
    if setup.several and union is None:
        notes.append(f"no two files record what the same kind of people do, so nothing is combined: the steps run "
                     f"on {Path(profiles[primary].path).name} and each other file gets a metric of its own")
    if not setup.several and profiles[primary].entity_table:
        p = profiles[primary]
        notes.append(f"{Path(p.path).name} has one row per {p.who} ({p.key} is unique): its {p.timestamp} is when "
                     f"each signed up, so the North Star proposed counts sign-ups (acquisition), not the value "
                     f"{p.who}s get; give the files of what they do as well (another --data) for a North Star of use")
    own = [n for p in profiles.values() for n in p.notes]
    return Sources(inputs, profiles, union, reused, primary, tuple(own + notes))
