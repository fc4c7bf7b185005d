"""What each event exporter writes, so a source can say `preset: segment` and no more.

One row per vendor: its timestamp column and unit, who the customer is (the known user id,
else the anonymous one), its event column, its row key, how late its data still changes, and
the columns that hold properties (read by a path such as `properties.plan`). A source's own
keys win over the preset's (`apply_preset`). This module is data and pure functions: how a
property path is read on an engine is in `engine/properties.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The column a preset's entity is computed into: the first non-null of `entity_from`
# (the engine adds it when the table has no such column; engine/properties.py).
PRESET_ENTITY = "person"


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    timestamp: str
    time_unit: str | None
    entity_from: tuple[str, ...]  # the first non-null of these is the customer
    event: str  # the column naming what happened
    key: str | None  # one row per value
    late_data: str | None
    containers: tuple[str, ...]  # columns read by a path: `properties.plan`
    container_prefixes: tuple[str, ...] = ()  # ... and every column starting so (Snowplow's contexts_*)
    signature: tuple[str, ...] = ()  # columns that together say a file was written by this exporter

    def defaults(self) -> dict[str, Any]:
        """The source keys this preset fills in."""
        values: dict[str, Any] = {"timestamp": self.timestamp, "entity": PRESET_ENTITY, "dimensions": [self.event],
                                  "event_dimensions": [self.event]}
        if self.time_unit:
            values["time_unit"] = self.time_unit
        if self.key:
            values["key"] = self.key
        if self.late_data:
            values["late_data"] = self.late_data
        return values


_TRACKS: dict[str, Any] = {"timestamp": "timestamp", "time_unit": None, "entity_from": ("user_id", "anonymous_id"),
                           "event": "event", "key": "id", "late_data": None,
                           "containers": ("properties", "context", "traits"),
                           "signature": ("anonymous_id", "user_id", "event", "timestamp")}

PRESETS: dict[str, Preset] = {
    "segment": Preset("segment", "Segment tracks", **_TRACKS),
    "rudderstack": Preset("rudderstack", "RudderStack tracks", **_TRACKS),
    "hightouch": Preset("hightouch", "Hightouch Events tracks", **_TRACKS),
    "ga4": Preset("ga4", "Google Analytics 4 BigQuery export", timestamp="event_timestamp", time_unit="us",
                  entity_from=("user_id", "user_pseudo_id"), event="event_name", key=None, late_data="3d",
                  containers=("event_params", "user_properties", "device", "geo", "traffic_source",
                              "collected_traffic_source", "ecommerce", "app_info", "privacy_info"),
                  signature=("event_timestamp", "event_name", "event_params", "user_pseudo_id")),
    "posthog": Preset("posthog", "PostHog batch export", timestamp="timestamp", time_unit=None,
                      entity_from=("person_id", "distinct_id"), event="event", key="uuid", late_data=None,
                      containers=("properties", "person_properties", "set", "set_once"),
                      signature=("uuid", "event", "distinct_id", "properties")),
    "amplitude": Preset("amplitude", "Amplitude export", timestamp="event_time", time_unit=None,
                        entity_from=("user_id", "device_id"), event="event_type", key="uuid", late_data=None,
                        containers=("event_properties", "user_properties", "group_properties", "data"),
                        signature=("event_type", "event_time", "device_id", "event_properties")),
    "snowplow": Preset("snowplow", "Snowplow atomic.events", timestamp="derived_tstamp", time_unit=None,
                       entity_from=("user_id", "domain_userid"), event="event_name", key="event_id", late_data=None,
                       containers=("contexts", "derived_contexts", "unstruct_event"),
                       container_prefixes=("contexts_", "unstruct_event_"),
                       signature=("event_id", "event_name", "derived_tstamp", "domain_userid")),
}
PRESET_NAMES: tuple[str, ...] = tuple(PRESETS)


def apply_preset(data: dict[str, Any]) -> dict[str, Any]:
    """A source's keys with what its `preset` knows filled in; the keys it gives itself win.
    A source naming its own `timestamp` keeps its own reading of it (no preset unit), and one
    naming its own `entity` gets no computed one."""
    preset = PRESETS.get(str(data.get("preset")))
    if preset is None:
        return data
    own_time = "timestamp" in data or "time_format" in data or "%" in str(data.get("format") or "")
    skip = {"time_unit"} if own_time else set()
    if "dimensions" in data:
        skip.add("event_dimensions")  # the preset's event column may not be among the source's own
    return {**{k: v for k, v in preset.defaults().items() if k not in skip}, **data}


def preset_of(source: Any) -> Preset | None:
    return PRESETS.get(getattr(source, "preset", None) or "")


def split_path(name: str) -> tuple[str, str] | None:
    """`properties.plan` as (container, key); None for a plain column name."""
    container, dot, key = name.partition(".")
    return (container, key) if dot and container and key else None


def is_container(source: Any, column: str) -> bool:
    """Does the source's preset read `column` by property paths?"""
    preset = preset_of(source)
    return preset is not None and (column in preset.containers or column.startswith(preset.container_prefixes))


def computed_entity(source: Any) -> tuple[str, tuple[str, ...]] | None:
    """(column, candidates) when the source's entity is the preset's computed one."""
    preset = preset_of(source)
    if preset is None or source.entity != PRESET_ENTITY:
        return None
    return PRESET_ENTITY, preset.entity_from


def recognise(columns: list[str] | tuple[str, ...]) -> str | None:
    """The preset whose exporter writes these columns (None when no signature fits). The
    tracks schema is shared by Segment, RudderStack and Hightouch: it is proposed as segment."""
    present = set(columns)
    for name in ("ga4", "posthog", "amplitude", "snowplow", "segment"):
        if set(PRESETS[name].signature) <= present:
            return name
    return None
