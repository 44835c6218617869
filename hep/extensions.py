"""Extensions, created unbound and bound to the app in create_app."""

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from hep.api import Api
from hep.fields import MAX_ID, IdConverter

# Stable constraint names, so Alembic can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def discard_transaction() -> None:
    """Roll back what a failed request left in the session, so the error answer can still read."""
    db.session.rollback()


migrate = Migrate()
api = Api()
api.register_converter(IdConverter, lambda _converter: {"type": "integer", "minimum": 1, "maximum": MAX_ID})


def rate_limit_key() -> str:
    """Client address, under this app's prefix (Flask-Limiter keeps only the first app's own prefix)."""
    return f"{current_app.config['RATE_LIMIT_PREFIX']}:{get_remote_address()}"


limiter = Limiter(key_func=rate_limit_key, default_limits=[])
