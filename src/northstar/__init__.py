"""Northstar: the North Star Metric framework as code.

    from northstar import Project
    project = Project.load("northstar.yml")
    project.query(["listening_minutes"], grain="week")
"""

from northstar.errors import DataError, NorthstarError, Problem, QueryError, SpecError
from northstar.project import Project

__version__ = "0.1.0"
__all__ = ["DataError", "NorthstarError", "Problem", "Project", "QueryError", "SpecError", "__version__"]
