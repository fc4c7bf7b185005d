"""`northstar discover`: the method's 9 steps to a North Star, as a guide over your data.

    profile.py   what the data holds: columns, events, measures, time span (Ibis on DuckDB)
    guess.py     what each column means: timestamp, entity, key, event names, dimensions, measures
    entities.py  system accounts left out of the entity, and why no entity was found
    combine.py   several files: the union of those recording the same people's actions
    inputs.py    the sources to write, each file's columns confirmed, the source the steps run on
    grain.py     the grain the proposed North Star is dense and steady enough to read at
    placeholder.py  the customer-value sentence proposed, and how `check` recognises it
    steps.py     the 9 steps: question, the method's hint, what the answer sets
    propose.py   candidate metrics, North Star, revenue, retention and funnel from the profile
    existing.py  candidates matched to the metrics a spec already has
    answers.py   the answers file (non-interactive runs), checked with file:line errors
    setup.py     the spec to write or update, the data, and the existing spec's answers
    guide.py     the steps in order, answered by an Asker (file, defaults or a person)
    parse.py     parsers of answers (ValueError says what is expected)
    evidence.py  numbers from the data shown beside a step's question
    plan.py      decisions -> additions to the spec
    write.py     the spec written new or updated in place (comments kept), atomically

`run_discover` is the whole flow without the terminal; the CLI adds the interactive asker
and runs the checks on the written spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from northstar.discover.answers import NO_ANSWERS, Answers, load_answers
from northstar.discover.guide import Asker, Decisions, FileAsker, run_guide
from northstar.discover.plan import Changes, plan_changes
from northstar.discover.setup import Setup, make_setup
from northstar.discover.steps import STEPS, Step
from northstar.discover.write import write_spec


@dataclass(frozen=True)
class DiscoverResult:
    path: Path
    created: bool
    decisions: Decisions
    changes: Changes
    text: str


def run_discover(spec_path: str | Path, data: str | Sequence[str] | None = None, answers: Answers = NO_ANSWERS,
                 asker: Asker | None = None, north_star: str | None = None) -> DiscoverResult:
    """Run the 9 steps and write (or update) the spec. Without an asker, the answers file
    answers and proposals fill in the rest (what `--answers` and `--yes` do). With several
    North Stars (`north_stars:`), `north_star` names the one worked on (None: the primary)."""
    setup = make_setup(spec_path, data, answers, north_star)
    decisions = run_guide(setup, asker or FileAsker(answers))
    changes = plan_changes(setup, decisions)
    created = setup.existing is None
    text = write_spec(setup.spec_path, changes, setup.data, north_star)
    return DiscoverResult(setup.spec_path, created, decisions, changes, text)


__all__ = ["NO_ANSWERS", "STEPS", "Answers", "Asker", "DiscoverResult", "FileAsker", "Setup", "Step", "load_answers",
           "run_discover"]
