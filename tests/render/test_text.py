from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor

import cairosvg
import pytest
from PIL import Image

from badge.render import fonts
from badge.render import text as text_module
from badge.render.fonts import Weight, cap_height, has_glyphs, load_fonts, text_width
from badge.render.text import ELLIPSIS, GRID, fit_text, text_path, truncate, wrap_text

WEIGHTS: tuple[Weight, ...] = ("regular", "semibold", "bold")
PATH_DATA = re.compile(r"M-?\d+ -?\d+[mlhvqtczMLHVQTCZ0-9 \-]*")


def ink_box(d: str, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Bounding box of the dark pixels when `d` is drawn at 1/GRID scale."""
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<g transform="scale({1 / GRID})"><path d="{d}"/></g></svg>'
    )
    png = cairosvg.svg2png(bytestring=svg.encode(), background_color="#fff")
    gray = Image.open(io.BytesIO(png)).convert("L")
    return gray.point(lambda v: 255 if v < 128 else 0).getbbox()


def test_fonts_load_from_the_package() -> None:
    load_fonts()
    for weight in WEIGHTS:
        assert text_width("Keurmerk", size=10, weight=weight) > 0


def test_bold_is_wider_than_regular() -> None:
    regular = text_width("BeCommerce Keurmerk", size=14, weight="regular")
    bold = text_width("BeCommerce Keurmerk", size=14, weight="bold")
    assert bold > regular


def test_width_scales_with_size() -> None:
    small = text_width("Gecertificeerd", size=10, weight="semibold")
    large = text_width("Gecertificeerd", size=20, weight="semibold")
    assert large == pytest.approx(2 * small)


@pytest.mark.parametrize("pair", [pytest.param(p, id=p) for p in ("AV", "To", "Te", "Wa")])
def test_kerning_tightens_classic_pairs(pair: str) -> None:
    apart = sum(text_width(c, size=100, weight="semibold") for c in pair)
    assert text_width(pair, size=100, weight="semibold") < apart


def test_path_is_compact_relative_path_data_at_the_given_origin() -> None:
    path = text_path("Keurmerk", x=12.5, y=30, size=14, weight="bold")
    assert PATH_DATA.fullmatch(path.d)
    # Only the first command is absolute; everything after it is relative.
    assert re.findall(r"[A-Z]", path.d) == ["M"]
    start_x, start_y = (int(v) for v in re.match(r"M(-?\d+) (-?\d+)", path.d).groups())  # type: ignore[union-attr]
    assert 125 <= start_x <= 125 + 14 * GRID  # first contour starts inside the first glyph
    assert 300 - 14 * GRID <= start_y <= 300
    assert path.width == pytest.approx(text_width("Keurmerk", size=14, weight="bold"))


def test_drawn_text_matches_its_metrics() -> None:
    size = 20
    path = text_path("HEH", x=5, y=30, size=size, weight="bold")
    box = ink_box(path.d, 120, 40)
    assert box is not None
    left, top, right, bottom = box
    assert bottom == pytest.approx(30, abs=1)  # sits on the baseline
    assert 30 - top == pytest.approx(cap_height(size, "bold"), abs=1)
    assert 5 <= left <= 8
    assert right <= 5 + path.width + 1


def test_accented_composites_are_drawn() -> None:
    plain = text_path("e", x=0, y=20, size=20, weight="regular")
    accented = text_path("é", x=0, y=20, size=20, weight="regular")
    plain_box = ink_box(plain.d, 30, 30)
    accented_box = ink_box(accented.d, 30, 30)
    assert plain_box is not None
    assert accented_box is not None
    assert accented_box[1] < plain_box[1] - 2  # the accent rises above the x-height


def test_decomposed_input_is_normalised() -> None:
    composed = text_path("België", x=0, y=20, size=12, weight="regular")
    decomposed = text_path("Belgie\u0308", x=0, y=20, size=12, weight="regular")
    assert composed == decomposed


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("東京", id="cjk"),
        pytest.param("🙂🙂", id="emoji"),
        pytest.param("ქა", id="georgian"),
    ],
)
def test_unsupported_characters_take_a_space_and_draw_nothing(text: str) -> None:
    path = text_path(text, x=0, y=10, size=10, weight="regular")
    assert path.d == ""
    assert path.width == pytest.approx(2 * text_width(" ", size=10, weight="regular"))
    assert not has_glyphs(text, "regular")


@pytest.mark.parametrize(
    "invisible",
    [
        pytest.param("\u202e", id="bidi-override"),
        pytest.param("\u200d", id="zero-width-joiner"),
        pytest.param("\x00", id="nul"),
        pytest.param("\u00ad", id="soft-hyphen-the-font-has"),
    ],
)
def test_invisible_characters_take_no_room(invisible: str) -> None:
    assert text_width(f"ab{invisible}c", size=10, weight="regular") == pytest.approx(
        text_width("abc", size=10, weight="regular")
    )


def test_mixed_scripts_keep_the_supported_part() -> None:
    path = text_path("Café 東京 Ωμέγα Жук", x=0, y=10, size=10, weight="semibold")
    assert path.d
    assert has_glyphs("Café 東京", "semibold")


def test_empty_text() -> None:
    assert text_path("", x=3, y=4, size=10, weight="bold").d == ""
    assert text_width("", size=10, weight="bold") == 0


@pytest.mark.parametrize(
    ("text", "max_width", "expected_text", "expect_shrunk"),
    [
        pytest.param("Certified", 200, "Certified", False, id="fits"),
        pytest.param("Gecertificeerd", 65, "Gecertificeerd", True, id="shrinks"),
        pytest.param("Niet gecertificeerd: controleer", 60, None, True, id="truncates"),
    ],
)
def test_fit_text(
    text: str, max_width: float, expected_text: str | None, expect_shrunk: bool
) -> None:
    fitted, size = fit_text(text, max_width=max_width, size=12, min_size=9, weight="semibold")
    assert 9 <= size <= 12
    assert (size < 12) is expect_shrunk
    assert text_width(fitted, size=size, weight="semibold") <= max_width
    if expected_text is None:
        assert fitted.endswith(ELLIPSIS)
        assert size == 9
        assert text.startswith(fitted[:-1])
    else:
        assert fitted == expected_text


def test_truncate_drops_trailing_punctuation_before_the_ellipsis() -> None:
    cut = truncate("Niet gecertificeerd: controleer", max_width=62, size=10, weight="semibold")
    assert cut.endswith(ELLIPSIS)
    assert not cut[:-1].endswith((" ", ":"))


def test_truncate_to_nothing_keeps_the_ellipsis() -> None:
    assert truncate("Keurmerk", max_width=1, size=10, weight="bold") == ELLIPSIS


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        pytest.param("Gecertificeerd", ("Gecertificeerd",), id="one-line"),
        pytest.param(
            "Niet gecertificeerd: controleer", ("Niet gecertificeerd:", "controleer"), id="nl"
        ),
        pytest.param(
            "Nicht gültig für diese Website", ("Nicht gültig für", "diese Website"), id="de"
        ),
    ],
)
def test_wrap_text_splits_at_the_most_balanced_space(text: str, lines: tuple[str, ...]) -> None:
    wrapped, size = wrap_text(text, max_width=110, size=10.5, min_size=9.5, weight="semibold")
    assert wrapped == lines
    assert 9.5 <= size <= 10.5
    for line in wrapped:
        assert text_width(line, size=size, weight="semibold") <= 110


def test_wrap_text_truncates_a_single_long_word() -> None:
    wrapped, size = wrap_text(
        "Zertifizierungsstellenverzeichnis", max_width=60, size=10, min_size=9, weight="bold"
    )
    assert len(wrapped) == 1
    assert wrapped[0].endswith(ELLIPSIS)
    assert size == 9


def test_concurrent_first_use_gives_the_same_paths() -> None:
    words = [f"Webshop {chr(0x41 + i)}ëàçø {i}" for i in range(24)]
    expected = [text_path(w, x=0, y=10, size=12, weight="semibold") for w in words]
    fonts.outline_of.cache_clear()
    text_module._relative_path.cache_clear()
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda w: text_path(w, x=0, y=10, size=12, weight="semibold"), words))
    assert got == expected
