"""The badge's fonts: Source Sans Pro from the `font_source_sans_pro` package, parsed once,
with kerning, glyph outlines and text widths in font units.
"""

from __future__ import annotations

import io
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Literal

from fontTools.pens.recordingPen import DecomposingRecordingPen
from fontTools.ttLib import TTFont

Weight = Literal["regular", "semibold", "bold"]

_FILES: dict[Weight, str] = {
    "regular": "SourceSansPro-Regular.ttf",
    "semibold": "SourceSansPro-Semibold.ttf",
    "bold": "SourceSansPro-Bold.ttf",
}
# Controls and format characters never show, even when the font has a glyph (soft
# hyphen); dropping them also removes bidi overrides from shop names.
_INVISIBLE = frozenset({"Cc", "Cf"})
# Without a glyph these take no room either: a lone combining mark shouldn't leave a gap.
_ZERO_WIDTH = _INVISIBLE | {"Cs", "Co", "Cn", "Mn", "Me", "Zl", "Zp"}

# fontTools decompiles tables and glyphs lazily and is not thread-safe; PNG rendering
# runs in worker threads, so every first touch of a font goes through this lock.
_LOCK = threading.RLock()

Point = tuple[float, float]
# None stands for the implied on-curve point of a closed all-off-curve TrueType contour.
Command = tuple[str, tuple[Point | None, ...]]


@dataclass(frozen=True, slots=True)
class Font:
    upm: int
    cmap: dict[int, str]
    advances: dict[str, int]
    glyphs: Any  # fontTools glyph set
    kern_subtables: tuple[Any, ...]
    space: int
    cap_height: int


@cache
def get_font(weight: Weight) -> Font:
    with _LOCK:
        return _load(weight)


def _load(weight: Weight) -> Font:
    data = (resources.files("font_source_sans_pro") / "files" / _FILES[weight]).read_bytes()
    tt = TTFont(io.BytesIO(data))
    cmap: dict[int, str] = dict(tt.getBestCmap())
    advances = {name: adv for name, (adv, _lsb) in tt["hmtx"].metrics.items()}
    space = advances[cmap[0x20]]
    return Font(
        upm=int(tt["head"].unitsPerEm),
        cmap=cmap,
        advances=advances,
        glyphs=tt.getGlyphSet(),
        kern_subtables=_kern_subtables(tt),
        space=space,
        cap_height=int(tt["OS/2"].sCapHeight),
    )


def load_fonts() -> None:
    """Parse the fonts now (about half a second) rather than on the first badge request."""
    for weight in _FILES:
        get_font(weight)


def _kern_subtables(tt: Any) -> tuple[Any, ...]:
    if "GPOS" not in tt:
        return ()
    gpos = tt["GPOS"].table
    indices = sorted(
        {
            index
            for record in gpos.FeatureList.FeatureRecord
            if record.FeatureTag == "kern"
            for index in record.Feature.LookupListIndex
        }
    )
    subtables: list[Any] = []
    for index in indices:
        lookup = gpos.LookupList.Lookup[index]
        for sub in lookup.SubTable:
            kind = lookup.LookupType
            if kind == 9:  # extension: the real subtable is wrapped
                kind, sub = sub.ExtensionLookupType, sub.ExtSubTable
            if kind == 2:  # pair adjustment
                subtables.append(sub)
    return tuple(subtables)


@lru_cache(maxsize=8192)
def _kern(weight: Weight, left: str, right: str) -> int:
    with _LOCK:
        return _pair_adjustment(get_font(weight).kern_subtables, left, right)


def _pair_adjustment(subtables: tuple[Any, ...], left: str, right: str) -> int:
    # As a shaper applies it: the first subtable that covers the pair wins.
    for sub in subtables:
        if left not in sub.Coverage.glyphs:
            continue
        if sub.Format == 1:
            pair_set = sub.PairSet[sub.Coverage.glyphs.index(left)]
            for record in pair_set.PairValueRecord:
                if record.SecondGlyph == right:
                    return int(getattr(record.Value1, "XAdvance", 0) or 0)
            continue
        if sub.Format == 2:
            class1 = sub.ClassDef1.classDefs.get(left, 0)
            class2 = sub.ClassDef2.classDefs.get(right, 0)
            record = sub.Class1Record[class1].Class2Record[class2]
            return int(getattr(record.Value1, "XAdvance", 0) or 0)
    return 0


@lru_cache(maxsize=4096)
def outline_of(weight: Weight, glyph: str) -> tuple[Command, ...]:
    glyphs = get_font(weight).glyphs
    # Accented letters are composites; flatten them into plain contours.
    pen = DecomposingRecordingPen(glyphs)
    with _LOCK:
        glyphs[glyph].draw(pen)
    return tuple(
        (op, tuple(None if p is None else (float(p[0]), float(p[1])) for p in args))
        for op, args in pen.value
    )


def glyph_run(text: str, weight: Weight) -> list[tuple[str | None, int]]:
    """(glyph name or None for blank, advance incl. kerning) in font units."""
    font = get_font(weight)
    run: list[tuple[str | None, int]] = []
    previous: str | None = None
    for char in unicodedata.normalize("NFC", text):
        if char.isspace():
            run.append((None, font.space))
            previous = None
            continue
        category = unicodedata.category(char)
        name = None if category in _INVISIBLE else font.cmap.get(ord(char))
        if name is None:
            if category not in _ZERO_WIDTH:
                run.append((None, font.space))
            previous = None
            continue
        if previous is not None and run:
            glyph, advance = run[-1]
            run[-1] = (glyph, advance + _kern(weight, previous, name))
        run.append((name, font.advances[name]))
        previous = name
    return run


def text_width(text: str, *, size: float, weight: Weight) -> float:
    font = get_font(weight)
    return sum(advance for _glyph, advance in glyph_run(text, weight)) * size / font.upm


def cap_height(size: float, weight: Weight) -> float:
    font = get_font(weight)
    return font.cap_height * size / font.upm


def has_glyphs(text: str, weight: Weight) -> bool:
    return any(glyph is not None for glyph, _advance in glyph_run(text, weight))
