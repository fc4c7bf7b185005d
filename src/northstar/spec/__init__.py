"""The spec: model, loading with line numbers, and validation. Free of engines and frameworks."""

from northstar.spec.load import LoadedSpec, load_spec, parse_spec
from northstar.spec.model import Spec

__all__ = ["LoadedSpec", "Spec", "load_spec", "parse_spec"]
