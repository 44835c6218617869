"""Settings read from the environment, grouped by concern."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def database_url(raw: str | None, instance_path: str) -> str:
    """Return the SQLAlchemy URL for DATABASE_URL, defaulting to a SQLite file in instance/."""
    if not raw:
        return f"sqlite:///{Path(instance_path) / 'hep.db'}"
    # Hosting platforms hand out postgres:// URLs; we always drive PostgreSQL with psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


def secret_key(instance_path: str) -> str:
    """Return SECRET_KEY, or a random key kept in instance/secret_key for the embedded default."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def vapid_private_key(instance_path: str) -> str:
    """Return HEP_VAPID_PRIVATE_KEY, or a P-256 key generated once and kept in instance/vapid_private_key.pem."""
    if os.environ.get("HEP_VAPID_PRIVATE_KEY"):
        return os.environ["HEP_VAPID_PRIVATE_KEY"]
    path = Path(instance_path) / "vapid_private_key.pem"
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pem)
        path.chmod(0o600)
    return path.read_text().strip()


# Push services of the major browsers (Chrome/Android, Firefox, Edge, Safari): the only hosts HEP posts to,
# so a subscription cannot make the server call an address of the patient's choosing.
PUSH_SERVICE_HOSTS = "fcm.googleapis.com,push.services.mozilla.com,notify.windows.com,push.apple.com"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


def load(instance_path: str) -> dict:
    """Build the Flask config mapping from the environment."""
    env = os.environ
    redis_url = env.get("REDIS_URL") or None
    return {
        # Database
        "SQLALCHEMY_DATABASE_URI": database_url(env.get("DATABASE_URL"), instance_path),
        # `flask db upgrade` connects as this owner role when set (see hep/dbroles.py)
        "MIGRATION_DATABASE_URI": database_url(env["MIGRATION_DATABASE_URL"], instance_path)
        if env.get("MIGRATION_DATABASE_URL")
        else None,
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        # A pooled PostgreSQL connection idle longer than this is pinged before use (hep/db_connections.py)
        "DB_PING_AFTER_IDLE_SECONDS": float(env.get("HEP_DB_PING_AFTER_IDLE_SECONDS", 1.0)),
        "SQLITE_BUSY_TIMEOUT_MS": _int("HEP_SQLITE_BUSY_TIMEOUT_MS", 5000),
        # Security
        "SECRET_KEY": secret_key(instance_path),
        "ACCESS_TOKEN_TTL": _int("HEP_ACCESS_TOKEN_TTL", 15 * 60),
        "REFRESH_TOKEN_TTL": _int("HEP_REFRESH_TOKEN_TTL", 30 * 24 * 3600),
        "ACTIVATION_CODE_TTL": _int("HEP_ACTIVATION_CODE_TTL", 7 * 24 * 3600),
        "LOGIN_RATE_LIMIT": env.get("HEP_LOGIN_RATE_LIMIT", "10 per minute"),
        # Failed sign-ins to one account, from any address (a success costs nothing)
        "LOGIN_ACCOUNT_RATE_LIMIT": env.get("HEP_LOGIN_ACCOUNT_RATE_LIMIT", "5 per minute; 20 per hour"),
        "TRUST_PROXY_HOPS": _int("HEP_TRUST_PROXY_HOPS", 0),
        # Rate-limit storage: Redis when configured so every gunicorn worker shares one count.
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATE_LIMIT_PREFIX": env.get("HEP_RATELIMIT_PREFIX", "hep"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Requests: the largest body accepted (413 beyond). A full batch of 500 entries, each with a
        # 1,000-character note of emoji sent \u-escaped, is about 6.2 MB.
        "MAX_CONTENT_LENGTH": _int("HEP_MAX_REQUEST_BYTES", 8 * 1024 * 1024),
        # Logging: how old an entry the app may still sync
        "LOG_MAX_AGE_DAYS": _int("HEP_LOG_MAX_AGE_DAYS", 14),
        # Text reminders (Twilio). The console backend prints and keeps messages in instance/.
        "SMS_BACKEND": env.get("SMS_BACKEND", "console"),
        "SMS_OUTBOX_PATH": env.get("SMS_OUTBOX_PATH", str(Path(instance_path) / "sms-outbox.jsonl")),
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID"),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN"),
        "TWILIO_FROM_NUMBER": env.get("TWILIO_FROM_NUMBER"),
        "TWILIO_MESSAGING_SERVICE_SID": env.get("TWILIO_MESSAGING_SERVICE_SID"),
        "TWILIO_BASE_URL": env.get("TWILIO_BASE_URL"),  # tests only: a local fake
        "SMS_STATUS_CALLBACK_URL": env.get("HEP_SMS_STATUS_CALLBACK_URL"),
        "TWILIO_TIMEOUT": float(env.get("HEP_TWILIO_TIMEOUT", 10)),  # seconds; keep well under the lease
        "SMS_MAX_PER_SECOND": float(env.get("HEP_SMS_MAX_PER_SECOND", 10)),
        # Where the account-wide send rate is held: auto (Redis, else PostgreSQL, else this process).
        "SMS_RATE_STORAGE": env.get("HEP_SMS_RATE_STORAGE", "auto"),
        "SMS_CONCURRENCY": _int("HEP_SMS_CONCURRENCY", 8),
        "REMINDER_BATCH": _int("HEP_REMINDER_BATCH", 50),
        "REMINDER_LEASE_SECONDS": _int("HEP_REMINDER_LEASE_SECONDS", 120),
        # An interrupted send not found at the provider is looked up again this much later before a resend.
        "RECONCILE_RECHECK_SECONDS": _int("HEP_RECONCILE_RECHECK_SECONDS", 60),
        # The periodic plan is cut into this many slices of patients, which scheduler processes share.
        "PLAN_SLICES": _int("HEP_PLAN_SLICES", 16),
        "PLAN_SLICE_LEASE_SECONDS": _int("HEP_PLAN_SLICE_LEASE_SECONDS", 300),
        # Tests only: stop a scheduler at a point of dispatch (before-send, after-send) so it can be killed there.
        "TEST_PAUSE_AT": env.get("HEP_TEST_PAUSE_AT"),
        "TEST_PAUSE_MARKER": env.get("HEP_TEST_PAUSE_MARKER"),
        # Clinician web app (hep/web): a session cookie backed by a token family of its own.
        "SESSION_COOKIE_NAME": "hep_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag("HEP_SECURE_COOKIES", True),
        "WEB_IDLE_MINUTES": _int("HEP_WEB_IDLE_MINUTES", 30),
        "WEB_SESSION_HOURS": _int("HEP_WEB_SESSION_HOURS", 12),
        # A path is joined to the address the web app was opened at; set a full https:// URL behind a proxy.
        "ACTIVATION_LINK": env.get("HEP_ACTIVATION_LINK", "/app/activate?code={code}"),
        # Web Push (hep/push): VAPID key and contact, and which push services subscriptions may point at.
        "VAPID_PRIVATE_KEY": vapid_private_key(instance_path),
        "VAPID_SUBJECT": env.get("HEP_VAPID_SUBJECT", "mailto:admin@localhost"),
        "PUSH_ENDPOINT_HOSTS": tuple(
            h.strip().lower() for h in env.get("HEP_PUSH_ENDPOINT_HOSTS", PUSH_SERVICE_HOSTS).split(",") if h.strip()
        ),
        "PUSH_TIMEOUT_SECONDS": float(env.get("HEP_PUSH_TIMEOUT_SECONDS", 10)),
        # Library
        "EXERCISES_DIR": env.get("HEP_EXERCISES_DIR", str(PROJECT_ROOT / "exercises")),
        # The browser that takes the figure sheet's PNG images (and that the end-to-end tests drive)
        "CHROMIUM_PATH": env.get("HEP_TEST_CHROMIUM", "/usr/bin/chromium"),
        "PAGE_SIZE_DEFAULT": 25,
        "PAGE_SIZE_MAX": 100,
        # OpenAPI (flask-smorest)
        "API_TITLE": "HEP",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        # Empty: Swagger UI from HEP itself (hep/api_docs); a URL: from that CDN, e.g. .../swagger-ui-dist@5.34.0/
        "OPENAPI_SWAGGER_UI_URL": env.get("HEP_SWAGGER_UI_URL", ""),
        "JSON_SORT_KEYS": False,
    }
