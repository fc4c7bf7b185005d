"""From a North Star target to the values its tree's inputs must reach: pure functions of values.

Given the North Star's target (a value by a date), the recent history of every tree metric
and the last complete period, this module works out, down the KPI tree, what each formula
input must reach in the target period, and the growth per period that implies.

- **Trend.** Each metric's trend is the one projection of `analysis.projection` (shared with
  the monitor's focus and target alerts and the overview's forecast): a Theil–Sen line through
  its last N complete periods (`TREND_PERIODS`: 26 weeks, 12 months, 90 days, 8 quarters, 5
  years; fewer when the data is shorter) on the scale its domain suits (log, square root of a
  small count, logit of a share, the values), projected to the target period and kept inside
  the metric's domain (`analysis.domain`); a requirement outside the domain is `unreachable`.
- **Method `trend`.** For each input of a node's formula: the value it must reach when every
  other input of that formula follows its trend. The formula is inverted exactly when the
  input appears once in it (`a*b`, `a/b`, `a+b`, `a-b` and nests of them), otherwise solved
  numerically (Brent's method on an expanding bracket, the root nearest the trend).
- **Method `proportional`.** All inputs of a node's formula change by the same factor `k`
  from their current values, each in the direction that raises the node (multiplied by `k`
  when raising it raises the node, divided by `k` when it lowers it, e.g. a denominator or a
  cost), with `k` found so that the formula gives the node's requirement.
- A node's requirement is the target of its own formula's inputs, down the tree. Driver
  links are hypotheses, not formulas: they get no requirement and are listed as "moves with".
- Growth per period: `(required / current) ** (1 / periods) - 1`, with `periods` the number
  of periods from the last complete period to the target period (none when a value is not
  positive). A requirement at an earlier date (an OMTM's deadline) lies on that path.

No engine here: the caller passes the history as a pandas frame.
"""

from northstar.analysis.attribution import evaluate
from northstar.analysis.targets.calendar import check_target_date, period_index, period_of, periods_apart
from northstar.analysis.targets.report import (METHODS, TREND_PERIODS, FocusTarget, NodeTarget, TargetsReport,
                                               build_targets)
from northstar.analysis.targets.words import summarise
from northstar.analysis.targets.solve import (derivative, helping_signs, magnitude, solve_input,
                                              solve_proportional)
from northstar.analysis.targets.trend import Trend, fit_trend, growth_per_period, value_on_path

__all__ = ["METHODS", "TREND_PERIODS", "FocusTarget", "NodeTarget", "TargetsReport", "Trend", "build_targets",
           "check_target_date", "derivative", "evaluate", "fit_trend", "growth_per_period", "helping_signs",
           "magnitude", "period_index", "period_of", "periods_apart", "solve_input", "solve_proportional",
           "summarise", "value_on_path"]
