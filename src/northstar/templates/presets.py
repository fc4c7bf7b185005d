"""Starting specs for data an event exporter wrote: `northstar init --preset ga4`.

The text is made from the preset's row (spec/presets.py), so it names the same columns the
preset reads: a source with `preset:` and a path to point at the export, event counts,
active people, their retention, and a breakdown by a property in a comment.
"""

from __future__ import annotations

from northstar.errors import QueryError
from northstar.spec.presets import PRESETS
from northstar.spec.suggest import did_you_mean

# Where each exporter's files usually are, and a property path to break down by.
_EXAMPLES: dict[str, tuple[str, str]] = {
    "segment": ("data/tracks/*.parquet", "context_page_path"),
    "rudderstack": ("data/tracks/*.parquet", "context_page_path"),
    "hightouch": ("data/tracks/*.parquet", "context_page_path"),
    "ga4": ("data/events_*.parquet", "event_params.page_location"),
    "posthog": ("data/posthog/*.parquet", "properties.plan"),
    "amplitude": ("data/amplitude/*.json", "event_properties.plan"),
    "snowplow": ("data/atomic_events/*.parquet", "geo_country"),
}


def preset_template_text(name: str) -> str:
    """A valid, commented spec for data written by exporter `name` (QueryError when unknown)."""
    preset = PRESETS.get(name)
    if preset is None:
        raise QueryError(f"unknown preset '{name}'.{did_you_mean(name, PRESETS)} Presets: {', '.join(PRESETS)}.")
    path, example = _EXAMPLES[name]
    who = " else ".join(preset.entity_from)
    containers = ", ".join(preset.containers + tuple(f"{p}*" for p in preset.container_prefixes))
    return f"""# A North Star spec for a {preset.title} ({name}).
# `preset: {name}` reads: timestamp `{preset.timestamp}`{f" ({preset.time_unit})" if preset.time_unit else ""}, \
the entity `person` ({who}),
# the event column `{preset.event}`{f", key `{preset.key}`" if preset.key else ""}\
{f", late data {preset.late_data}" if preset.late_data else ""}.
# Properties are read by a path `container.key` in `where`, `expr`, `dimensions` and `--by`
# (containers: {containers}); e.g. `northstar query active_people --by {example}`.
project: {name}_events
timezone: UTC

sources:
  events:
    preset: {name}
    path: {path}  # point this at the export
    # dimensions: [{preset.event}, {example}]  # what `--by` may use besides property paths

metrics:
  events:
    label: Events
    source: events
    agg: count
  active_people:
    label: Active people
    description: People (known user, else anonymous id) with at least one event in the week.
    source: events
    agg: count_distinct
  people_retention:
    label: Returning people
    type: retention
    source: events
  events_per_person:
    formula: events / active_people

north_star:
  metric: active_people
  grain: week
  customer_value: People come back and use the product every week.
  tree:
    events:
      formula: active_people * events_per_person
"""
