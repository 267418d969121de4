"""Where a signature lives inside a badge file (the Open Badges "baking" conventions).

SVG: one element in our namespace right after the opening <svg> tag, holding the
compact JWS in CDATA. PNG: one iTXt chunk with our keyword.
"""

from __future__ import annotations

NAMESPACE = "https://www.becommerce.be/ns/keurmerk-badge/1"
PREFIX = "keurmerk"
ELEMENT = "assertion"
PNG_KEYWORD = "keurmerk"
