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
    at risk; send to the rules' channels. With several North Stars, it watches every one (unless
    --north-star names one). Exits non-zero only when Northstar itself fails."""
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
        result = mon.backtest(project, first, explain=not no_explain, every=state.north_star is None)
    else:
        if start:
            raise QueryError("--from applies only with --backtest")
        result = mon.run(project, dry_run=dry_run, explain=not no_explain, every=state.north_star is None)
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
    """The weekly review (North Star, change, why, OMTMs, guardrails, findings), sent to a channel;
    with several North Stars, of each (unless --north-star names one)."""
    from northstar.alerts import monitor as mon

    project = state.project()
    alerts = project.spec.alerts
    name = channel or (alerts.digest.channel if alerts.digest else None)
    if name is not None and name not in alerts.channels:
        raise QueryError(f"--channel: '{name}' is not defined under alerts.channels"
                         + (f" (defined: {', '.join(sorted(alerts.channels))})" if alerts.channels else ""))
    message = mon.digest(project, every=state.north_star is None)
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


@cli.group()
def alerts() -> None:
    """Manage alerts: test a channel, list the alerts, snooze or acknowledge one."""


@alerts.command("test")
@click.argument("channel")
@click.pass_obj
def alerts_test(state: State, channel: str) -> None:
    """Send a clearly marked test message through CHANNEL (one of alerts.channels); exit 0 when
    it was delivered."""
    from northstar.alerts.manage import send_test

    send_test(state.project(), channel)
    stdout.print(f"test message delivered to {channel}", markup=False, highlight=False)


@alerts.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def alerts_list(state: State, fmt: str) -> None:
    """The alerts of the alerts state, newest first: id, metric, period, state, note."""
    from northstar.alerts import monitor as mon
    from northstar.alerts.manage import rows
    from northstar.output import json_text

    project = state.project()
    found = rows(project.spec, mon.load_state(mon.state_path(project)), dt.datetime.now(dt.timezone.utc))
    if fmt == "json":
        click.echo(json_text(found, indent=2, default=str))
        return
    if not found:
        stdout.print("no alerts", markup=False, highlight=False)
        return
    from rich.table import Table

    table = Table("id", "metric", "period", "state", "note")
    for row in found:
        table.add_row(*(str(row[k] or "") for k in ("id", "metric", "period", "state", "note")))
    stdout.print(table)


@alerts.command("snooze")
@click.argument("alert_id")
@click.option("--until", "until", help="Snooze until this date (YYYY-MM-DD, UTC) or time (YYYY-MM-DDTHH:MM).")
@click.option("--for", "duration", help="Snooze for this long: 30m, 12h, 3d, 2w.")
@click.option("--note", help="Why (shown by `alerts list`).")
@click.pass_obj
def alerts_snooze(state: State, alert_id: str, until: str | None, duration: str | None, note: str | None) -> None:
    """Hold ALERT_ID (and later periods of the same deviation) until a time; the first pass after
    it sends it again if it still deviates."""
    from northstar.alerts import monitor as mon
    from northstar.alerts.manage import snooze, snooze_end

    now = dt.datetime.now(dt.timezone.utc)
    end = snooze_end(now, until, duration)
    project = state.project()
    snooze(mon.state_path(project), alert_id, end, note, now)
    stdout.print(f"{alert_id} snoozed until {end.isoformat(timespec='minutes')}", markup=False, highlight=False)


@alerts.command("ack")
@click.argument("alert_id")
@click.option("--note", help="Why (shown by `alerts list`).")
@click.pass_obj
def alerts_ack(state: State, alert_id: str, note: str | None) -> None:
    """Acknowledge ALERT_ID: not sent again while the same deviation lasts."""
    from northstar.alerts import monitor as mon
    from northstar.alerts.manage import ack

    project = state.project()
    ack(mon.state_path(project), alert_id, note, dt.datetime.now(dt.timezone.utc))
    stdout.print(f"{alert_id} acknowledged", markup=False, highlight=False)
