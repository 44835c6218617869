"""An app on a real HTTP server on 127.0.0.1, for clients that need a socket (a generated client, a browser)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from hep import create_app
from tests.conftest import app_settings


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve `app` on a free port until the block ends; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def production_app(sqlite_template: Path, folder: Path, **overrides) -> Flask:
    """An app on its own copy of the migrated test database, configured as in production (errors render
    as users see them: no TESTING)."""
    path = folder / "hep.db"
    shutil.copy(sqlite_template, path)
    settings = app_settings(f"sqlite:///{path}", **overrides)
    settings.pop("TESTING")
    return create_app(settings)
