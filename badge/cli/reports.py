"""`badge reports`: consumers' reports of sites that show a badge wrongly."""

from __future__ import annotations

import click

from badge.cli.common import actor, friendly, registry_from_env, require
from badge.cli.output import echo_json, echo_list, json_option
from badge.platform.timeutil import BRUSSELS
from badge.registry.model import Report


@click.group()
def reports() -> None:
    """Consumers' reports of sites that show a badge wrongly."""


@reports.command("list")
@click.option("--all", "show_all", is_flag=True, help="Closed reports too, not only open ones.")
@click.option("--shop", "shop_id", metavar="ID", help="Only this shop's reports.")
@json_option
@friendly
def reports_list(show_all: bool, shop_id: str | None, as_json: bool) -> None:
    """Newest first; open ones only unless --all."""
    with registry_from_env() as registry:
        found = registry.reports(status=None if show_all else "open", shop_id=shop_id, limit=1000)
    echo_list(found, as_json, "report", _line, Report.to_json)


def _line(report: Report) -> str:
    when = report.created_at.astimezone(BRUSSELS).strftime("%Y-%m-%d %H:%M")
    return f"{report.id}  {report.status:<6} {when}  {report.shop_id}  {report.host}"


@reports.command("show")
@click.argument("report_id")
@json_option
@friendly
def reports_show(report_id: str, as_json: bool) -> None:
    """One report in full."""
    with registry_from_env() as registry:
        report = require(registry.get_report(report_id), "report", report_id)
    if as_json:
        echo_json(report.to_json())
        return
    for label, value in report.to_json().items():
        click.echo(f"{label + ':':<12}{'-' if value in (None, '') else value}")


@reports.command("close")
@click.argument("report_id")
@click.option("--resolution", required=True, help="What was done; kept with the report.")
@friendly
def reports_close(report_id: str, resolution: str) -> None:
    """Close a report, saying what was done."""
    with registry_from_env() as registry:
        report = registry.close_report(report_id, actor=actor(), resolution=resolution)
    click.echo(f"{report.id}: closed ({report.resolution})")
