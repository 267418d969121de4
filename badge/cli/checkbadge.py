"""`badge verify`: the verdict on a badge file, and an exit status that says if it is OK."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from badge.cli.common import fail, friendly, load_settings, registry_from_env
from badge.cli.output import echo_json
from badge.errors import BadgeError
from badge.platform.timeutil import brussels_time, today

if TYPE_CHECKING:
    from badge.settings import Settings
    from badge.verify.verdict import Verdict


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable verdict.")
@friendly
def verify(file: Path, as_json: bool) -> None:
    """Check a badge file; exit 0 only when genuine, unexpired and certified now."""
    from badge.verify.check import MAX_UPLOAD_BYTES

    settings = load_settings()
    if file.stat().st_size > MAX_UPLOAD_BYTES:
        fail(f"{file} is larger than {MAX_UPLOAD_BYTES} bytes; badges are a few kilobytes")
    verdict, note = _judge(file.read_bytes(), settings)
    if as_json:
        echo_json(verdict.to_json())
    else:
        _print_verdict(verdict, note)
    if not verdict.ok:
        raise SystemExit(1)


def _judge(data: bytes, settings: Settings) -> tuple[Verdict, str | None]:
    """The verdict, and a note when the badge's issuer differs from this shell's URL."""
    from badge.signing import KeyStore
    from badge.verify.check import extract_token
    from badge.verify.verdict import judge_claims, not_genuine

    try:
        token = extract_token(data, None)
    except BadgeError as exc:
        return not_genuine(exc.message), None
    keys_store = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
    # Verifying needs only the public keys; never make a key here.
    if not keys_store.reload_if_changed():
        fail(f"no keys in {settings.keys_dir.absolute()}; set BADGE_KEYS_DIR to the service's keys")
    claims, why = keys_store.verify(token)
    if claims is None:
        return not_genuine(why), None
    subject = claims.get("sub")
    with registry_from_env() as registry:
        live = registry.get_shop(subject) if isinstance(subject, str) else None
    live_state = live.public_state(today()) if live else None
    # The keys are the proof of origin. This shell's BADGE_PORT or BADGE_PUBLIC_URL
    # may well differ from the server's, so the issuer is reported, not required.
    verdict = judge_claims(claims, live, live_state, issuer=None)
    issuer = claims.get("iss")
    if issuer == settings.public_url:
        return verdict, None
    return verdict, (
        f"issuer:     {issuer} (this shell's BADGE_PUBLIC_URL is "
        f"{settings.public_url}; a configuration difference, not a problem with "
        "the badge: the signature was checked against the keys in BADGE_KEYS_DIR)"
    )


def _print_verdict(verdict: Verdict, note: str | None) -> None:
    click.echo(f"{'GENUINE' if verdict.genuine else 'NOT GENUINE'}: {verdict.reason}")
    if verdict.shop_id:
        click.echo(f"issued to:  {verdict.shop_name} ({verdict.shop_id})")
        click.echo(f"domains:    {', '.join(verdict.domains)}")
        shown = verdict.variant or "unknown (signed before badges named it)"
        if verdict.site:
            shown += f" badge, served for {verdict.site}"
        click.echo(f"showed:     {shown}")
        click.echo(
            f"signed:     {_moment(verdict.issued_at)}; "
            f"{'expired' if verdict.expired else 'expires'} {_moment(verdict.expires_at)}"
        )
        click.echo(f"state then: {verdict.state_then} (in the badge)")
        click.echo(f"state now:  {verdict.state_now} (live register)")
    if note:
        click.echo(note)
    click.echo(f"verdict:    {_summary(verdict)}")


def _moment(iso: str | None) -> str:
    from datetime import datetime

    return brussels_time(datetime.fromisoformat(iso)) if iso else "unknown"


def _summary(verdict: Verdict) -> str:
    """One line that says which part decides the exit status."""
    if not verdict.genuine:
        return "NOT OK: the badge is not genuine (whatever the shop's state today)"
    if not verdict.certified_now:
        return "NOT OK: the badge is genuine, but the shop is not certified now"
    if verdict.variant not in (None, "certified"):
        return f"NOT OK: genuine, but the {verdict.variant} badge, which vouches for no site"
    if verdict.expired:
        return "NOT OK: genuine and certified now, but this copy's signature has expired"
    return "OK: genuine, unexpired, and the shop is certified now"
