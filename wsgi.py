"""The gunicorn target: `gunicorn wsgi:app`. It never starts the scheduler."""

from hep import create_app

app = create_app()
