"""Every CLI command and option, and every spec key, is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from northstar.cli import cli
from northstar.spec import model

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_and_its_options_are_documented(name: str) -> None:
    command = cli.commands[name]
    assert f"northstar {name}" in README, f"`northstar {name}` is not in the README"
    for param in command.params:
        if isinstance(param, click.Option):
            longest = max(param.opts, key=len)
            assert longest in README, f"option {longest} of `northstar {name}` is not in the README"


MODELS = [model.Spec, model.Source, model.AggregateMetric, model.RetentionMetric, model.ConversionMetric,
          model.FormulaMetric, model.NorthStar, model.TreeNode, model.Driver, model.Target, model.HistoryEntry,
          model.Focus, model.Guardrail, model.Funnel, model.Engine, model.Checks, model.OfferingChange,
          model.Web, model.Alerts, model.AlertChannel, model.AlertRule, model.Digest]


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_spec_keys_are_documented(cls: type) -> None:
    for name, field in cls.model_fields.items():
        key = field.alias or name
        if key == "type" and cls is not model.Engine:
            continue
        assert re.search(rf"`{re.escape(key)}[`:]", README), f"spec key `{key}` of {cls.__name__} is not in the README"
