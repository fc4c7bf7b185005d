"""A dbt project's semantic layer as immutable data.

Read from `target/semantic_manifest.json` (what `dbt parse` writes: the normalised form of
both the legacy and the latest metric spec) or, where no manifest exists, from the
`semantic_models:` and `metrics:` of the project's YAML files. Only what `northstar import
dbt` maps is kept; everything else in the manifest is ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from northstar.errors import NorthstarError


class DbtProjectError(NorthstarError):
    """The dbt project cannot be read: no project, or a malformed manifest or YAML file."""


@dataclass(frozen=True)
class Entity:
    name: str
    type: str  # primary, unique, foreign, natural
    expr: str


@dataclass(frozen=True)
class Dimension:
    name: str
    type: str  # categorical or time
    expr: str
    granularity: str | None = None


@dataclass(frozen=True)
class Measure:
    name: str
    agg: str
    expr: str
    agg_time_dimension: str | None
    non_additive: bool = False
    description: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class SemanticModel:
    name: str
    schema: str
    alias: str
    entities: tuple[Entity, ...]
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    default_time: str | None
    primary_entity: str | None = None
    description: str | None = None

    def dimension(self, name: str) -> Dimension | None:
        return next((d for d in self.dimensions if d.name == name), None)

    def entity(self, name: str) -> Entity | None:
        return next((e for e in self.entities if e.name == name), None)

    def primary(self) -> Entity | None:
        named = self.entity(self.primary_entity) if self.primary_entity else None
        return named or next((e for e in self.entities if e.type in ("primary", "unique", "natural")), None)


@dataclass(frozen=True)
class MetricInput:
    """A measure or metric a metric reads, with its own filter and alias."""

    name: str
    filter: tuple[str, ...] = ()
    alias: str | None = None
    offset: str | None = None  # offset_window / offset_to_grain, as text


@dataclass(frozen=True)
class Metric:
    name: str
    type: str  # simple, ratio, derived, cumulative, conversion
    filter: tuple[str, ...] = ()
    label: str | None = None
    description: str | None = None
    measure: MetricInput | None = None
    numerator: MetricInput | None = None
    denominator: MetricInput | None = None
    expr: str | None = None
    inputs: tuple[MetricInput, ...] = ()
    window: str | None = None  # cumulative: "7 days"; conversion: "7 day"
    grain_to_date: str | None = None
    period_agg: str | None = None
    base_measure: MetricInput | None = None
    conversion_measure: MetricInput | None = None
    entity: str | None = None
    calculation: str | None = None
    constant_properties: bool = False


@dataclass(frozen=True)
class SemanticLayer:
    project: str
    profile: str | None
    root: Path
    origin: Path  # the manifest, or the project file when read from YAML
    semantic_models: tuple[SemanticModel, ...]
    metrics: tuple[Metric, ...]

    def measure(self, name: str) -> tuple[SemanticModel, Measure] | None:
        for model in self.semantic_models:
            for measure in model.measures:
                if measure.name == name:
                    return model, measure
        return None


def _filters(value: Any) -> tuple[str, ...]:
    """A filter as the manifest writes it ({where_filters: [...]}) or as YAML does (text or list)."""
    if not value:
        return ()
    if isinstance(value, str):
        return (value.strip(),)
    if isinstance(value, dict):
        return tuple(str(f.get("where_sql_template", "")).strip() for f in value.get("where_filters") or [])
    if isinstance(value, list):
        return tuple(t for item in value for t in _filters(item))
    return (str(value),)


def _window(value: Any) -> str | None:
    """`{count: 7, granularity: day}` (manifest) or `7 days` (YAML) as `7 day`."""
    if not value:
        return None
    if isinstance(value, dict):
        return f"{value.get('count')} {str(value.get('granularity')).lower()}"
    count, _, unit = str(value).strip().partition(" ")
    unit = unit.strip().lower()
    return f"{count} {unit[:-1] if unit.endswith('s') else unit}"


def _input(value: Any) -> MetricInput | None:
    if value is None:
        return None
    if isinstance(value, str):
        return MetricInput(value)
    offset = _window(value.get("offset_window")) or (
        f"to {value['offset_to_grain']}" if value.get("offset_to_grain") else None)
    return MetricInput(str(value["name"]), _filters(value.get("filter")), value.get("alias"), offset)


def _metric(raw: dict[str, Any]) -> Metric:
    params = raw.get("type_params") or {}
    cumulative = params.get("cumulative_type_params") or {}
    conversion = params.get("conversion_type_params") or {}
    return Metric(
        name=str(raw["name"]), type=str(raw.get("type", "simple")).lower(), filter=_filters(raw.get("filter")),
        label=raw.get("label"), description=raw.get("description") or None,
        measure=_input(params.get("measure")), numerator=_input(params.get("numerator")),
        denominator=_input(params.get("denominator")), expr=params.get("expr"),
        inputs=tuple(i for i in (_input(m) for m in params.get("metrics") or []) if i is not None),
        window=_window(cumulative.get("window") or params.get("window") or conversion.get("window")),
        grain_to_date=cumulative.get("grain_to_date") or params.get("grain_to_date"),
        period_agg=cumulative.get("period_agg"),
        base_measure=_input(conversion.get("base_measure")), conversion_measure=_input(conversion.get("conversion_measure")),
        entity=conversion.get("entity"), calculation=conversion.get("calculation"),
        constant_properties=bool(conversion.get("constant_properties")),
    )


def _semantic_model(raw: dict[str, Any], default_schema: str) -> SemanticModel:
    relation = raw.get("node_relation") or {}
    alias = relation.get("alias") or _ref(raw.get("model")) or raw["name"]
    dims = tuple(Dimension(str(d["name"]), str(d.get("type", "categorical")).lower(), str(d.get("expr") or d["name"]),
                           ((d.get("type_params") or {}).get("time_granularity"))) for d in raw.get("dimensions") or [])
    measures = tuple(Measure(str(m["name"]), str(m.get("agg", "sum")).lower(), str(m.get("expr") or m["name"]),
                             m.get("agg_time_dimension"), bool(m.get("non_additive_dimension")),
                             m.get("description"), m.get("label")) for m in raw.get("measures") or [])
    entities = tuple(Entity(str(e["name"]), str(e.get("type", "foreign")).lower(), str(e.get("expr") or e["name"]))
                     for e in raw.get("entities") or [])
    return SemanticModel(str(raw["name"]), relation.get("schema_name") or default_schema, str(alias), entities, dims,
                         measures, (raw.get("defaults") or {}).get("agg_time_dimension"), raw.get("primary_entity"),
                         raw.get("description"))


def _ref(model: Any) -> str | None:
    match = re.search(r"ref\(\s*['\"]([^'\"]+)['\"]", str(model or ""))
    return match.group(1) if match else None


def _read_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise DbtProjectError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None


def _project_file(root: Path) -> dict[str, Any]:
    project_file = root / "dbt_project.yml"
    if not project_file.is_file():
        raise DbtProjectError(f"{root}: not a dbt project (no dbt_project.yml): give the folder that holds it")
    data = _read_yaml(project_file)
    if not isinstance(data, dict) or not data.get("name"):
        raise DbtProjectError(f"{project_file}: a dbt project file needs `name:`")
    return data


def load_semantic_layer(root: str | Path) -> SemanticLayer:
    """The semantic layer of the dbt project at `root` (its manifest, else its YAML files)."""
    root = Path(root)
    project = _project_file(root)
    manifest = root / str(project.get("target-path") or "target") / "semantic_manifest.json"
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DbtProjectError(f"{manifest}:{exc.lineno}: not valid JSON: {exc.msg}; run `dbt parse` again") from None
        if not isinstance(data, dict) or not isinstance(data.get("semantic_models"), list):
            raise DbtProjectError(f"{manifest}: not a semantic manifest (no `semantic_models` list); run `dbt parse`")
        raw_models, raw_metrics, origin = data["semantic_models"], data.get("metrics") or [], manifest
    else:
        raw_models, raw_metrics = [], []
        for folder in project.get("model-paths") or ["models"]:
            for path in sorted((root / folder).rglob("*.y*ml")):
                doc = _read_yaml(path)
                if isinstance(doc, dict):
                    raw_models += doc.get("semantic_models") or []
                    raw_metrics += doc.get("metrics") or []
        origin = root / "dbt_project.yml"
    try:
        models = tuple(_semantic_model(m, "main") for m in raw_models)
        metrics = tuple(_metric(m) for m in raw_metrics)
    except (KeyError, TypeError, AttributeError) as exc:
        raise DbtProjectError(f"{origin}: a semantic model or metric is malformed ({type(exc).__name__}: {exc})") from None
    if not models:
        raise DbtProjectError(f"{origin}: the dbt project defines no semantic models (nothing to import)")
    return SemanticLayer(str(project["name"]), project.get("profile"), root, origin, models, metrics)
