"""`northstar monitor` (one pass of the alert rules, or a backtest) and `northstar digest`."""

from __future__ import annotations

import datetime as dt

import click

from northstar.cli.app import State, cli, stderr, stdout
from northstar.errors import QueryError


@cli.command()
@click.option("--backtest", is_flag=True, help="Replay history and list the alerts that would have fired.")
@click.option("--from", "start", help="With --backtest: the first period to replay, YYYY-MM-DD.")
@click.option("--dry-run", is_flag=True, help="Evaluate and print; never send.")
@click.option("--no-explain", is_flag=True, help="Skip the 'why' of each anomaly (faster).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def monitor(state: State, backtest: bool, start: str | None, dry_run: bool, no_explain: bool, fmt: str) -> None:
    """Run the alert rules once (for cron or CI): anomalies, guardrails, focus off track, target
    at risk; send to the rules' channels. Exits non-zero only when Northstar itself fails."""
    from northstar.alerts import monitor as mon
    from northstar.output import json_text

    project = state.project()
    if backtest:
        if not start:
            raise QueryError("--backtest needs --from DATE (the first period to replay)")
        try:
            first = dt.date.fromisoformat(start)
        except ValueError:
            raise QueryError(f"--from: '{start}' is not a date; write YYYY-MM-DD") from None
        result = mon.backtest(project, first, explain=not no_explain)
    else:
        if start:
            raise QueryError("--from applies only with --backtest")
        result = mon.run(project, dry_run=dry_run, explain=not no_explain)
    if fmt == "json":
        click.echo(json_text(result.to_dict(), indent=2, default=str))
    else:
        stdout.print(mon.render_text(result), markup=False, highlight=False)
    for o in result.outgoing:
        for d in o.deliveries:
            if getattr(d, "status", None) == "failed":
                stderr.print(f"warning: {o.message.key} to {d.channel}: {d.error}", style="yellow",
                             markup=False, highlight=False)


@cli.command()
@click.option("--channel", help="The channel to send to (default: alerts.digest.channel); without one, print.")
@click.option("--dry-run", is_flag=True, help="Print the digest; never send.")
@click.pass_obj
def digest(state: State, channel: str | None, dry_run: bool) -> None:
    """The weekly review (North Star, change, why, OMTMs, guardrails, findings), sent to a channel."""
    from northstar.alerts import monitor as mon

    project = state.project()
    alerts = project.spec.alerts
    name = channel or (alerts.digest.channel if alerts.digest else None)
    if name is not None and name not in alerts.channels:
        raise QueryError(f"--channel: '{name}' is not defined under alerts.channels"
                         + (f" (defined: {', '.join(sorted(alerts.channels))})" if alerts.channels else ""))
    message = mon.digest(project)
    if name is None or dry_run:
        stdout.print(message.title + "\n" + message.text, markup=False, highlight=False)
        return
    from northstar.alerts.delivery import deliver

    now = dt.datetime.now(dt.timezone.utc)
    deliveries = deliver([message], {name: alerts.channels[name]}, mon.state_path(project), now)
    for d in deliveries:
        if d.status == "failed":
            stderr.print(f"warning: digest to {d.channel}: {d.error}", style="yellow", markup=False, highlight=False)
        else:
            stdout.print(f"digest {d.status} to {d.channel}", markup=False, highlight=False)
