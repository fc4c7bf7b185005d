"""The method's 9 steps to find a North Star Metric, as questions.

Sean Ellis's 8 steps plus one (how often it will change). Each step has the key it is
answered under (in the answers file and in the guide), the question, a short explanation
tied to the method (docs/method.md), and what its answer sets in `northstar.yml`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    number: int
    key: str
    title: str
    question: str
    hint: str
    sets: str


STEPS: tuple[Step, ...] = (
    Step(1, "job", "The job",
         "What job do customers hire the product for?",
         "Think of the value proposition canvas: the outcome the customer wants, in their words. The North Star "
         "measures value customers get, not money they pay.",
         "north_star.customer_value (one sentence)"),
    Step(2, "end_result", "The end result",
         "When do customers reach the end result (the job done)? Which event marks it?",
         "The moment the job is done is the moment value is delivered; the North Star counts those moments, "
         "or who reached them, or how much of them.",
         "the event every proposed North Star is built on"),
    Step(3, "segments_ok", "All customers",
         "Does that hold for all customers?",
         "The value must hold for the whole target group (an anti-algae product that works for fish ponds but "
         "not for swimming pools has the wrong target group). Below: the share of each segment that reaches "
         "the end result.",
         "when no: `target_group`, a filter added to the North Star's `where`"),
    Step(4, "north_star", "Measurable",
         "Is it measurable? Which metric counts the job done?",
         "Pick a number that moves when customers get more value: not revenue, not an all-time total, not "
         "sign-ups or downloads (vanity). Understandable in one sentence.",
         "north_star.metric (and the metrics it needs)"),
    Step(5, "grain", "Frequency",
         "Which frequency fits how often customers get the value?",
         "Yearly is far too slow; daily can mislead when weekends differ from weekdays; weekly or monthly is "
         "typical.",
         "north_star.grain"),
    Step(6, "external", "External factors",
         "Which dimensions are outside your control (channels, partners, campaigns)?",
         "Teams must be able to move the North Star through product work; when one channel or partner carries "
         "most of it, external factors drive it. `northstar check` watches these dimensions for concentration.",
         "checks.external_dimensions"),
    Step(7, "revenue", "Business growth",
         "Does North Star growth mean business growth? Which metric is the money?",
         "When the North Star rises, revenue should follow: it leads revenue. Name the revenue metric so "
         "`northstar check` can test that on your data; it is tagged `revenue` and never the North Star.",
         "a metric tagged `revenue`, and funnel.revenue"),
    Step(8, "funnel", "The pirate funnel",
         "Does every funnel stage feed it? Which metric measures each stage?",
         "Acquisition, activation, retention, referral, revenue (AARRR): growth in any stage should raise the "
         "North Star. Stages you cannot measure yet stay empty; `northstar check` reports them.",
         "funnel, and the stages as drivers in north_star.tree"),
    Step(9, "change_frequency", "Stability",
         "How often will the North Star change?",
         "Only when what you offer customers changes; keep the history of earlier North Stars and the reason "
         "for each change.",
         "a comment above north_star; when it replaces an earlier one, north_star.history"),
)

STEP_KEYS: tuple[str, ...] = tuple(step.key for step in STEPS)
# Answers that are not one of the 9 steps: where the data is and what its columns mean, a
# target group (step 3), the reason for replacing a North Star (step 9), metric definitions.
EXTRA_KEYS: tuple[str, ...] = ("data", "project", "columns", "target_group", "change_reason", "metrics")
ANSWER_KEYS: tuple[str, ...] = ("data", "project", "columns") + STEP_KEYS[:3] + ("target_group",) + STEP_KEYS[3:] + (
    "change_reason", "metrics")
COLUMN_KEYS: tuple[str, ...] = ("timestamp", "entity", "event")
DEFAULT_CHANGE_FREQUENCY = "Only when what we offer customers changes; review it once a year"


def step(key: str) -> Step:
    """The step answered under `key`."""
    return next(s for s in STEPS if s.key == key)
