"""Importers: other tools' metric definitions as a Northstar spec (dbt's semantic layer)."""

from northstar.importers.dbt import ImportResult, import_dbt
from northstar.importers.dbt_manifest import DbtProjectError

__all__ = ["DbtProjectError", "ImportResult", "import_dbt"]
