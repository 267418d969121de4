"""The PNG part of `make bench`: a cold badge PNG painted from its view, next to the old
path (lay the badge out as SVG, then rasterise that with cairosvg), at 1x, 2x and 3x.

Every render is cold: each view has a shop name of its own, so no layout cache helps
(the fonts and glyph tables are warm, as in a running server). The two paths alternate
view by view so that noise from other work on the machine hits both; read the medians.
Wall time is what a request waits; the CPU time of the rendering thread is the steadier
figure on a machine that other jobs share.

    python loadtests/png_bench.py [--count N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import cairosvg

from badge.render.fonts import load_fonts
from badge.render.png import render_png_view
from badge.render.svg import BadgeView, render_svg

SCALES = (1, 2, 3)
LANGS = ("nl", "fr", "de", "en")


@dataclass(frozen=True)
class Figures:
    scale: int
    count: int
    p50_ms: float
    p99_ms: float
    cpu_p50_ms: float
    cairosvg_p50_ms: float
    cairosvg_p99_ms: float
    cairosvg_cpu_p50_ms: float

    @property
    def speedup(self) -> float:
        """How many times faster the median cold render is than through cairosvg."""
        return self.cairosvg_p50_ms / self.p50_ms


def view(number: int) -> BadgeView:
    """A certified m badge whose shop name no other view in the run shares."""
    return BadgeView(
        mark="certified",
        size="m",
        lang=LANGS[number % len(LANGS)],  # type: ignore[arg-type]
        headline="BeCommerce Keurmerk",
        status_line="Gecertificeerde webshop",
        label=f"Webshop {number:06d}: BeCommerce Keurmerk, certified. Click to verify.",
        shop_name=f"Webshop {number:06d} bv",
        categories=("b2c_member", "sponsor"),
    )


def via_cairosvg(badge: BadgeView, scale: int) -> bytes:
    png: bytes = cairosvg.svg2png(bytestring=render_svg(badge, token=None).encode(), scale=scale)
    return png


def _timed(
    render: Callable[[BadgeView, int], bytes], badge: BadgeView, scale: int
) -> tuple[float, float]:
    """Wall and thread CPU milliseconds of one render."""
    wall, cpu = time.perf_counter(), time.thread_time()
    render(badge, scale)
    return (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def run(count: int = 200) -> list[Figures]:
    """`count` cold renders per scale each way; one Figures per scale."""
    load_fonts()
    # Warm what a running server has warm: glyph outlines, kerning, the mark's path data.
    for number in range(8):
        render_png_view(view(-1 - number), 1)
        via_cairosvg(view(-100 - number), 1)
    figures = []
    for scale in SCALES:
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        for i in range(count):
            # Even numbers for one path and odd for the other: no view is laid out twice.
            number = 2 * (scale * count + i)
            ours.append(_timed(render_png_view, view(number), scale))
            theirs.append(_timed(via_cairosvg, view(number + 1), scale))
        walls, cpus = zip(*ours, strict=True)
        old_walls, old_cpus = zip(*theirs, strict=True)
        figures.append(
            Figures(
                scale=scale,
                count=count,
                p50_ms=statistics.median(walls),
                p99_ms=_p99(list(walls)),
                cpu_p50_ms=statistics.median(cpus),
                cairosvg_p50_ms=statistics.median(old_walls),
                cairosvg_p99_ms=_p99(list(old_walls)),
                cairosvg_cpu_p50_ms=statistics.median(old_cpus),
            )
        )
    return figures


def report(figures: list[Figures]) -> str:
    lines = [
        f"cold PNG badges (size m, certified), {figures[0].count} views per scale, ms:",
        f"{'':5}  {'painted from the view':^23}  {'SVG through cairosvg':^23}",
        f"{'scale':>5}  {'p50':>7} {'p99':>7} {'cpu p50':>7}  {'p50':>7} {'p99':>7} {'cpu p50':>7}"
        "  speed-up (p50)",
    ]
    lines.extend(
        f"{f.scale:>4}x  {f.p50_ms:7.2f} {f.p99_ms:7.2f} {f.cpu_p50_ms:7.2f}  "
        f"{f.cairosvg_p50_ms:7.2f} {f.cairosvg_p99_ms:7.2f} {f.cairosvg_cpu_p50_ms:7.2f}"
        f"  {f.speedup:6.1f}x"
        for f in figures
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=200, help="cold renders per scale and path")
    options = parser.parse_args()
    print(report(run(options.count)))


if __name__ == "__main__":
    main()
