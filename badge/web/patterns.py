"""The regular expressions of the API's JSON Schema (badge/web/api_models.py): readable
text, host names, shop and report ids, compact JWS and calendar days. The registry's
rules stay the judge; these let a client see the shape before it sends.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from badge.registry.rules import BIDI_CONTROLS, INVISIBLE
from badge.verify.check import PASTE_BLANKS
from badge.vocabulary import SHOP_ID_CLASS, SHOP_ID_LENGTH


def _refused_in_text() -> str:
    """The characters rules.clean_text refuses, as a regex class body of ranges: control,
    format (Cf), bidi and invisible characters. Whitespace is not refused: it is folded."""
    # Where such characters are in the BMP (Unicode 15). The few astral ones (tags, some
    # musical format marks) are left out of the schema: a regex class of astral characters
    # makes generated tests several times slower, and clean_text still refuses them.
    points = (*range(0x3200), *range(0xFE00, 0x10000))
    refused = [
        code
        for code in points
        if not chr(code).isspace()
        and (
            code < 32
            or 0x7F <= code < 0xA0
            or chr(code) in BIDI_CONTROLS
            or chr(code) in INVISIBLE
            or unicodedata.category(chr(code)) == "Cf"
        )
    ]
    ranges: list[list[int]] = []
    for code in refused:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(
        _char(low) if low == high else f"{_char(low)}-{_char(high)}" for low, high in ranges
    )


def _char(code: int) -> str:
    return f"\\u{code:04x}"


_NOT_TEXT: Final = _refused_in_text()
# One line of readable text with something in it (JSON Schema patterns are searches).
TEXT_PATTERN: Final = f"^[^{_NOT_TEXT}]*[^{_NOT_TEXT}\\s][^{_NOT_TEXT}]*$"
_LABEL: Final = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_TAIL: Final = "[A-Za-z]{2,63}\\.?(?::[0-9]{1,5})?(?:/[!-~]*)?$"
# A host name in its ASCII (punycode) form, or a URL around one.
ASCII_HOST_PATTERN: Final = f"^(?:https?://)?(?:{_LABEL}\\.)+{_HOST_TAIL}"
# The same, where labels may also be Unicode (IDNA, checked by the registry's rules).
HOST_PATTERN: Final = f"^(?:https?://)?(?:[^{_NOT_TEXT}\\s./:?#@]{{1,63}}\\.)+{_HOST_TAIL}"
SHOP_ID_PATTERN: Final = f"^[{SHOP_ID_CLASS}]{{{SHOP_ID_LENGTH}}}$"
REPORT_ID_PATTERN: Final = f"^r[{SHOP_ID_CLASS}]{{{SHOP_ID_LENGTH}}}$"
# A registered domain as stored: ASCII (punycode), no scheme, port or trailing dot.
DOMAIN_PATTERN: Final = f"^(?:{_LABEL}\\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})$"
# A compact JWS: three base64url parts; no such part is 1 more than a multiple of 4 long.
_B64: Final = "(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{4}|[A-Za-z0-9_-]{2,3})"
_JWS: Final = f"{_B64}\\.{_B64}\\.{_B64}"
# A token as sent, with the blanks a paste brings around it: the checker's own set, written
# as a regex class, escapes and all.
_BLANKS: Final = "[" + PASTE_BLANKS.encode("unicode_escape").decode("ascii") + "]*"
JWS_PATTERN: Final = f"^{_BLANKS}{_JWS}{_BLANKS}$"
# The page's form sends `token` empty when a file is chosen.
FORM_TOKEN_PATTERN: Final = f"^{_BLANKS}(?:{_JWS})?{_BLANKS}$"
DAY_PATTERN: Final = "^(?:199[0-9]|20[0-9]{2}|2100)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"

# A yes/no query parameter (`?attention=1`, `?unregistered=true`): exactly these spellings,
# so what the document lists is what the server takes.
FLAGS: Final[dict[str, bool]] = {
    "": False,
    "0": False,
    "false": False,
    "no": False,
    "1": True,
    "true": True,
    "yes": True,
}
