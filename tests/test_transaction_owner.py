"""One owner of the transaction: the use-case (service) functions commit; routes and web views never
touch the database session, so a view cannot commit half of a change or forget its audit event."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HEP = Path(__file__).resolve().parent.parent / "hep"
VIEWS = sorted([*HEP.glob("*/routes.py"), *(HEP / "web").glob("*.py")])


def session_uses(source: str) -> list[int]:
    """The lines of a module that use `db.session` or import `db`."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        uses_session = isinstance(node, ast.Attribute) and node.attr == "session"
        uses_session = uses_session and isinstance(node.value, ast.Name) and node.value.id == "db"
        imports_db = isinstance(node, ast.ImportFrom) and any(alias.name == "db" for alias in node.names)
        if uses_session or imports_db:
            found.append(node.lineno)
    return found


def test_the_scan_covers_every_api_route_module_and_web_view():
    names = {str(p.relative_to(HEP)) for p in VIEWS}
    assert {"adherence/routes.py", "accounts/routes.py", "web/patients.py", "web/auth.py"} <= names


@pytest.mark.parametrize("path", VIEWS, ids=lambda p: str(p.relative_to(HEP)))
def test_routes_and_web_views_leave_the_session_to_the_services(path):
    assert session_uses(path.read_text(encoding="utf-8")) == []


def test_the_scan_finds_a_view_that_commits():
    view = "from hep.extensions import db\n\n\ndef view():\n    db.session.commit()\n"
    assert session_uses(view) == [1, 5]
