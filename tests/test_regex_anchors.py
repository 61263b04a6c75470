"""Every name check in src/ matches the whole text: ``fullmatch``, never ``match`` with a ``$`` anchor.

``re.match(r"...$")`` accepts a text that ends in a line break, and a line break pasted into a
pod's ``sh -ec`` script starts a new command. This scans the source for the two risky forms; the
few parsers listed below read texts line by line or by position, and check no name.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "tasksecrets"

# (file, pattern variable): parsers of a secret's text or a scanner, not checks of a name.
PARSERS = {
    ("wire.py", "_CANONICAL_LINES"),  # advances by position through canonical lines
    ("plugins/sql/connection.py", "_USERINFO_PASSWORD_RE"),  # finds a URI's prefix to mask
    ("plugins/sql/connection.py", "_BACKGROUND_RE"),  # strips a suffix from a driver's message
    ("plugins/sql/credentials.py", "_GO_MAP_RE"),  # reads a credentials text
    ("plugins/sql/credentials.py", "_LINE_RE"),  # reads one line of splitlines()
    ("cli/jsonpath.py", "_STEP_RE"),  # advances by position through a JSONPath expression
}


def _ends_in_dollar(node: ast.expr) -> bool:
    if not (isinstance(node, ast.Call) and ast.unparse(node.func) == "re.compile" and node.args):
        return False
    pattern = node.args[0]
    text = pattern.value if isinstance(pattern, ast.Constant) else None
    return isinstance(text, str) and text.endswith("$") and not text.endswith("\\$")


def _risky_uses(path: Path, relative: str) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _ends_in_dollar(node.value):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if not any((relative, n) in PARSERS for n in names):
                found.append(f"{relative}:{node.lineno}: {names} ends in '$'")
        elif (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "match"
        ):
            owner = ast.unparse(node.func.value)
            if (relative, owner) not in PARSERS:
                found.append(f"{relative}:{node.lineno}: {owner}.match(...)")
    return found


def test_no_name_check_accepts_a_trailing_line_break() -> None:
    risky = [
        use
        for path in sorted(SRC.rglob("*.py"))
        for use in _risky_uses(path, path.relative_to(SRC).as_posix())
    ]
    assert risky == [], "use fullmatch (no '$' anchor) for every check of a name:\n" + "\n".join(risky)


def test_the_scan_finds_a_match_with_a_dollar_anchor(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'import re\n_X = re.compile(r"^[a-z]+$")\nok = _X.match("a\\n") or re.match("a$", "")\n'
    )
    assert len(_risky_uses(sample, "sample.py")) == 3
