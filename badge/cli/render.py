"""`badge render`: a shop's current badge, signed, written to a file."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from badge.cli.common import friendly, load_settings, registry_from_env, require
from badge.vocabulary import (
    DEFAULT_LANG,
    DEFAULT_SIZE,
    FORMATS,
    LANGS,
    SCALES,
    SIZES,
    Format,
    Lang,
    Size,
)


@click.command()
@click.argument("shop_id")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--lang", type=click.Choice(LANGS), default=DEFAULT_LANG, show_default=True)
@click.option("--size", type=click.Choice(tuple(SIZES)), default=DEFAULT_SIZE, show_default=True)
@click.option(
    "--scale",
    type=click.Choice([str(scale) for scale in SCALES]),
    default="1",
    show_default=True,
    help="PNG only.",
)
@click.option(
    "--site",
    metavar="HOST",
    help="The website that shows the badge, as its Referer would say [default: the shop's "
    "first registered domain]; 'none' for the badge shown without a Referer.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@friendly
def render(
    shop_id: str, fmt: str, lang: str, size: str, scale: str, site: str | None, output: Path
) -> None:
    """Write the shop's current badge, signed, to a file."""
    import anyio

    from badge.serving import binding
    from badge.serving.query import BadgeQuery
    from badge.serving.service import BadgeService
    from badge.signing import KeyStore

    settings = load_settings()
    with registry_from_env() as registry:
        shop = require(registry.get_shop(shop_id), "shop", shop_id)
        if site is None:
            referer_class: str | None = shop.domains[0]
        elif site == "none":
            referer_class = None
        else:
            referer_class = binding.referer_host(site.encode("utf-8", "replace"))
        keys_store = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
        keys_store.ensure()
        service = BadgeService(settings, registry, keys_store)
        query = BadgeQuery(cast(Lang, lang), cast(Size, size), int(scale))
        rendered = anyio.run(service.get, shop_id, cast(Format, fmt), query, referer_class)
    output.write_bytes(rendered.body)
    entry = service.entries.current(shop_id)
    assert entry is not None
    click.echo(f"wrote {output} ({len(rendered.body)} bytes, {fmt}, state {entry.state})")
