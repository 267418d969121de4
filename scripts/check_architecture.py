"""`make check`'s limits on the shape of the code, so they hold after the next change too.

- at most 10 modules at the top of badge/ (the rest live in packages by role: serving/,
  web/, platform/, render/, registry/, verify/, admin/, cli/);
- no module in badge/ over 400 lines, and no function over 60;
- at most one request handler that catches BadgeError itself: errors travel to the one
  handler in badge/errors.py, which answers by route (the CLI, not a request handler,
  turns them into exit codes where it runs them).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "badge"
MAX_TOP_MODULES = 10
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_LOCAL_BADGE_ERROR_CATCHES = 1
NOT_REQUEST_HANDLERS = ("cli",)


def catches_badge_error(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id == "BadgeError" for n in names)


def main() -> int:
    problems: list[str] = []
    catches: list[str] = []
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    if len(top) > MAX_TOP_MODULES:
        problems.append(
            f"badge/ has {len(top)} modules at the top (at most {MAX_TOP_MODULES}): "
            + ", ".join(top)
        )
    for path in sorted(PACKAGE.rglob("*.py")):
        shown = path.relative_to(ROOT)
        source = path.read_text()
        lines = len(source.splitlines())
        if lines > MAX_MODULE_LINES:
            problems.append(f"{shown}: {lines} lines (at most {MAX_MODULE_LINES})")
        tree = ast.parse(source, str(path))
        handler_module = path.relative_to(PACKAGE).parts[0] not in NOT_REQUEST_HANDLERS
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(
                        f"{shown}:{node.lineno} {node.name}() is {length} lines "
                        f"(at most {MAX_FUNCTION_LINES})"
                    )
            if (
                handler_module
                and isinstance(node, ast.ExceptHandler)
                and node.type is not None
                and catches_badge_error(node)
            ):
                catches.append(f"{shown}:{node.lineno}")
    if len(catches) > MAX_LOCAL_BADGE_ERROR_CATCHES:
        problems.append(
            f"{len(catches)} local `except BadgeError` in request handling "
            f"(at most {MAX_LOCAL_BADGE_ERROR_CATCHES}): {', '.join(catches)}"
        )
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
