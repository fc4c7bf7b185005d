"""Commands that say why the North Star moved: explain, funnel."""

from __future__ import annotations

import click
from rich.table import Table

from northstar.cli.app import State, cli, stdout


def _num(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "-"
    if pct:
        return f"{value * 100:+.1f}%"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


@cli.command()
@click.argument("metric", required=False)
@click.option("--period", help="A date in the period to explain (default: the last complete period).")
@click.option("--vs", default="previous", show_default=True, help="Baseline: previous, year, or a date.")
@click.option("--by", "by", multiple=True, help="Only these dimensions for segments (repeatable).")
@click.option("--where", help="Only the customers matching a filter on dimensions, e.g. \"country = 'DE'\" "
              "(same review period as the whole; a source without the dimension is refused).")
@click.option("--window", help="Between rolling windows instead of periods: 7d, 28d, mtd or qtd, to the data's "
              "last complete day (--vs previous or year).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True)
@click.pass_obj
def explain(state: State, metric: str | None, period: str | None, vs: str, by: tuple[str, ...], where: str | None,
            window: str | None,
            fmt: str) -> None:
    """Why a metric (default: the North Star) moved: through the tree, into segments and drivers."""
    from northstar.explain.narrative import plural
    from northstar.output import json_text

    result = state.project().where(where).explain(metric, period=period, vs=vs, by=by, window=window)
    if fmt == "json":
        click.echo(json_text(result.to_dict(), indent=2, default=str))
        return
    if fmt == "markdown":
        click.echo(_markdown(result), nl=False)
        return
    stdout.print(result.summary, markup=False, highlight=False)
    names = result.side_names()
    tree = Table(title=f"{result.label}: {names['baseline']} → {names['period']}")
    for column in ("metric", "before", "now", "change", "contribution", "share"):
        tree.add_column(column, justify="left" if column == "metric" else "right")

    def add(node: object, depth: int) -> None:
        tree.add_row("  " * depth + node.label, _num(node.baseline), _num(node.value),  # type: ignore[attr-defined]
                     _num(node.change_pct, pct=True), _num(node.contribution),  # type: ignore[attr-defined]
                     "-" if node.share is None else f"{node.share:.0%}")  # type: ignore[attr-defined]
        for child in node.children:  # type: ignore[attr-defined]
            add(child, depth + 1)

    add(result.root, 0)
    stdout.print(tree)
    if result.segments:
        seg = Table(title="Segments that drove it" + (" (* overlapping segments)" if any(
            s.overlap for s in result.segments) else ""))
        for column in ("metric", "segment", "before", "now", "change", "contribution", "rate effect", "mix effect"):
            seg.add_column(column, justify="left" if column in ("metric", "segment") else "right")
        for s in result.segments:
            seg.add_row(s.metric, _segment_name(s), _num(s.baseline), _num(s.value), _num(s.change_pct, pct=True),
                        _num(s.contribution), _num(s.rate_effect), _num(s.mix_effect))
        stdout.print(seg)
    for finding in result.entities:
        ids = Table(title=f"{plural(finding.noun).capitalize()} behind {finding.metric} ({finding.column})")
        for column in ("id", "before", "now", "change"):
            ids.add_column(column, justify="left" if column == "id" else "right")
        for entity in finding.entities:
            ids.add_row(str(entity.id), _num(entity.baseline), _num(entity.value), _num(entity.change))
        stdout.print(ids)
    if result.drivers:
        drivers = Table(title="Drivers, at their lag")
        for column in ("node", "driver", "lag", "driver period", "driver change", "as expected", "history r", "p"):
            drivers.add_column(column)
        for d in result.drivers:
            drivers.add_row(d.node, d.driver, str(d.lag), d.period.isoformat(), _num(d.change_pct, pct=True),
                            {True: "yes", False: "no", None: "-"}[d.as_expected], _num(d.correlation),
                            "-" if d.p_value is None else f"{d.p_value:.3f}")
        stdout.print(drivers)
    for note in result.notes:
        stdout.print(f"note: {note}", markup=False, highlight=False)


def _segment_name(segment: object) -> str:
    name = ", ".join(f"{k}={v}" for k, v in segment.dimensions.items())  # type: ignore[attr-defined]
    return name + (" *" if segment.overlap else "")  # type: ignore[attr-defined]


def _markdown(result: object) -> str:
    r = result  # an Explanation
    names = r.side_names()  # type: ignore[attr-defined]
    lines = [f"## {r.label}: {names['period']} against {names['baseline']}", "", r.summary, "",  # type: ignore[attr-defined]
             "| input | before | now | change | share |", "|---|---:|---:|---:|---:|"]

    def add(node: object, depth: int) -> None:
        lines.append(f"| {'&nbsp;' * 2 * depth}{node.label} | {_num(node.baseline)} | {_num(node.value)} | "  # type: ignore[attr-defined]
                     f"{_num(node.change_pct, pct=True)} | "  # type: ignore[attr-defined]
                     f"{'-' if node.share is None else f'{node.share:.0%}'} |")  # type: ignore[attr-defined]
        for child in node.children:  # type: ignore[attr-defined]
            add(child, depth + 1)

    add(r.root, 0)  # type: ignore[attr-defined]
    if r.segments:  # type: ignore[attr-defined]
        lines += ["", "| segment | metric | change | contribution |", "|---|---|---:|---:|"]
        lines += [f"| {_segment_name(s)} | {s.metric} | "
                  f"{_num(s.change_pct, pct=True)} | {_num(s.contribution)} |" for s in r.segments]  # type: ignore[attr-defined]
    for finding in r.entities:  # type: ignore[attr-defined]
        lines += ["", f"| {finding.noun} ({finding.column}) | {finding.metric} before | now | change |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {x.id} | {_num(x.baseline)} | {_num(x.value)} | {_num(x.change)} |" for x in finding.entities]
    return "\n".join(lines) + "\n"


@cli.command()
@click.option("--period", help="A date in the period to show (default: the last complete period).")
@click.option("--by", help="Show each stage's value per value of this dimension.")
@click.option("--where", help="Only the customers matching a filter on dimensions, e.g. \"country = 'DE'\" "
              "(same review period as the whole; a source without the dimension is refused).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True)
@click.pass_obj
def funnel(state: State, period: str | None, by: str | None, where: str | None, fmt: str) -> None:
    """The pirate funnel (AARRR): stages, conversions, the bottleneck and an OMTM proposal for it."""
    from northstar.output import json_text

    report = state.project().where(where).funnel(period=period, by=by)
    if fmt == "json":
        click.echo(json_text(report.to_dict(), indent=2, default=str))
        return
    rows = [(s.stage, s.metric or "(not mapped)", _num(s.value), _num(s.change_pct, pct=True),
             "-" if s.conversion is None else f"{s.conversion:.1%}", _num(s.reachable), s.reachable_from or "-",
             _num(s.nsm_gain), s.gain_method or "-") for s in report.stages]
    headers = ("stage", "metric", "value", "change", "conversion", "reachable", "from", "NSM gain", "how")
    if fmt == "markdown":
        lines = [f"## Funnel, {report.grain} of {report.period}", "", report.summary, "",
                 "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        click.echo("\n".join(lines))
        return
    table = Table(title=f"Pirate funnel, {report.grain} of {report.period} (bottleneck: {report.bottleneck or '-'})")
    for header in headers:
        table.add_column(header)
    for r in rows:
        table.add_row(*r)
    stdout.print(table)
    if by:
        seg = Table(title=f"By {by}")
        values = sorted({k for s in report.stages for k in s.segments})
        seg.add_column("stage")
        for v in values:
            seg.add_column(v, justify="right")
        for s in report.stages:
            if s.metric:
                seg.add_row(s.stage, *[_num(s.segments.get(v)) for v in values])
        stdout.print(seg)
    stdout.print(report.summary, markup=False, highlight=False)
    if report.proposal:
        p = report.proposal
        stdout.print("Add to `focus:` in the spec:", markup=False, highlight=False)
        def shown(value: object, blank: str) -> str:
            return blank if value is None else f"{value:g}" if isinstance(value, float) else str(value)

        stdout.print(f"  - {{team: {p['team']}, metric: {p['metric']}, baseline: {shown(p['baseline'], '<now>')}, "
                     f"target: {shown(p['target'], '<target>')}, from: {p['from']}, to: {p['to']}, owner: <name>}}",
                     markup=False, highlight=False)
        if p.get("define"):
            stdout.print(f"  and define the rate in `metrics:`: {p['define']}", markup=False, highlight=False)
