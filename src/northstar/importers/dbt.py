"""`import_dbt`: a dbt project's semantic layer into a Northstar spec, written or updated."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from northstar.importers.dbt_manifest import load_semantic_layer
from northstar.importers.dbt_profile import engine_from_profile
from northstar.importers.dbt_spec import NotImported, map_semantic_layer
from northstar.importers.dbt_write import render, write_spec


@dataclass(frozen=True)
class ImportResult:
    path: Path
    created: bool  # a new spec (False: an existing one updated)
    written: bool  # False for a dry run
    text: str
    origin: Path  # the semantic manifest, or dbt_project.yml when read from the YAML files
    sources: tuple[str, ...]
    metrics: tuple[str, ...]
    not_imported: tuple[NotImported, ...]
    notes: tuple[str, ...]


def import_dbt(project_dir: str | Path, spec_path: str | Path = "northstar.yml", profiles_dir: str | Path | None = None,
               target: str | None = None, dry_run: bool = False) -> ImportResult:
    """Read the dbt project at `project_dir` and write (or update) the spec at `spec_path`.

    Raises DbtProjectError for a project that cannot be read and SpecError (naming the lines)
    when the result would not validate; nothing is written then.
    """
    spec = Path(spec_path)
    layer = load_semantic_layer(project_dir)
    mapping = map_semantic_layer(layer)
    engine = engine_from_profile(layer.root, layer.profile, target, profiles_dir, spec.parent)
    existing = spec.read_text(encoding="utf-8") if spec.exists() else None
    text, stale = render(existing, mapping, engine.engine, layer.project, str(layer.origin))
    notes = list(mapping.notes)
    if engine.note:
        notes.append(engine.note)
    notes += [f"metric '{name}' came from dbt earlier and is no longer there: delete it if nothing uses it"
              for name in stale]
    if dry_run:
        from northstar.spec.load import parse_spec

        parse_spec(text, str(spec))
    else:
        write_spec(spec, text)
    return ImportResult(spec, existing is None, not dry_run, text, layer.origin, tuple(mapping.sources),
                        tuple(mapping.metrics), mapping.not_imported, tuple(notes))
