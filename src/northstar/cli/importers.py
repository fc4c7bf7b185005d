"""`northstar import dbt PATH`: a dbt project's semantic layer as (an update of) the spec."""

from __future__ import annotations

import json

import click

from northstar.cli.app import State, cli, stdout


@cli.group("import")
def import_group() -> None:
    """Import metric definitions from another tool into the spec."""


@import_group.command("dbt")
@click.argument("path", type=click.Path(file_okay=False), default=".")
@click.option("--profiles-dir", metavar="DIR", help="Folder of profiles.yml (default: $DBT_PROFILES_DIR, the project, "
              "then ~/.dbt).")
@click.option("--target", metavar="NAME", help="The profile's target whose connection becomes the engine (default: "
              "the profile's own).")
@click.option("--dry-run", is_flag=True, help="Print the spec instead of writing it.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="How to report what was imported and what was not.")
@click.pass_obj
def import_dbt_command(state: State, path: str, profiles_dir: str | None, target: str | None, dry_run: bool,
                       fmt: str) -> None:
    """Write or update the spec (-f) from the dbt project at PATH: its semantic_manifest.json (run `dbt parse`
    first), else its YAML files. Lists what cannot be imported, with the reason."""
    from northstar.importers import import_dbt

    result = import_dbt(path, state.spec_path, profiles_dir=profiles_dir, target=target, dry_run=dry_run)
    if fmt == "json":
        click.echo(json.dumps({"spec": str(result.path), "written": result.written, "created": result.created,
                               "read": str(result.origin), "sources": list(result.sources),
                               "metrics": list(result.metrics),
                               "not_imported": [{"kind": n.kind, "name": n.name, "reason": n.reason}
                                                for n in result.not_imported],
                               "notes": list(result.notes)}, indent=2))
        if dry_run:
            click.echo(result.text, err=True)
        return
    if dry_run:
        click.echo(result.text, nl=False)
    verb = "would write" if dry_run else "wrote" if result.created else "updated"
    stdout.print(f"{verb} {result.path} from {result.origin}: {len(result.sources)} source(s), "
                 f"{len(result.metrics)} metric(s)", markup=False, highlight=False)
    if result.not_imported:
        stdout.print(f"not imported ({len(result.not_imported)}):", markup=False, highlight=False)
        for item in result.not_imported:
            stdout.print(f"  - {item}", markup=False, highlight=False)
    for note in result.notes:
        stdout.print(f"note: {note}", markup=False, highlight=False)
