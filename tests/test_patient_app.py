"""The patient app's files as the server serves them: shell, service worker, manifest, catalogues, headers.

The app's behaviour in a browser is tested end to end in tests/e2e/test_e2e_patient_app.py.
"""

from __future__ import annotations

import json
import re
import string

import pytest

from hep import patient_app
from hep.i18n import DEFAULT, LANGUAGES, catalogue, language_for, translate

APP_JS = sorted((patient_app.STATIC / "js").rglob("*.js"))


def get(client, url):
    """GET `url` and close the response (files are streamed; an open one is a ResourceWarning)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


@pytest.mark.parametrize("path", ["/app/", "/app/activate?code=ABCDE-FGHIJ", "/app/today", "/app/exercise/12"])
def test_every_screen_address_answers_with_the_shell(client, path):
    response = get(client, path)
    assert response.status_code == 200
    assert b'<script type="module" src="/app/static/js/main.js"></script>' in response.data


def test_an_unknown_screen_is_not_found(client):
    assert get(client, "/app/nowhere").status_code == 404


def test_the_app_is_served_under_a_strict_content_security_policy(client):
    response = get(client, "/app/today")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy and "connect-src 'self'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_shell_has_no_inline_script_or_style():
    html = (patient_app.STATIC / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html and " style=" not in html and " on" not in re.sub(r"<noscript>.*?</noscript>", "", html)


def test_only_api_js_calls_fetch_and_only_store_js_touches_storage():
    callers = {p.relative_to(patient_app.STATIC).as_posix() for p in APP_JS if re.search(r"\bfetch\(", p.read_text())}
    storage = re.compile(r"indexedDB|localStorage|sessionStorage|openDB\(|document\.cookie|caches\.")
    stores = {p.relative_to(patient_app.STATIC).as_posix() for p in APP_JS if storage.search(p.read_text())}
    assert callers == {"js/api.js"}
    assert stores == {"js/store.js"}


def test_the_service_worker_caches_every_app_file_and_changes_version_with_them(client):
    response = get(client, "/app/sw.js")
    body = response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.content_type.startswith("text/javascript")
    version, urls = patient_app.precache()
    assert f"const VERSION = '{version}';" in body
    assert "__VERSION__" not in body and "__PRECACHE__" not in body
    precached = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", body).group(1))
    assert precached == urls
    for url in precached:
        assert get(client, url).status_code == 200, url
    modules = {f"/app/static/{p.relative_to(patient_app.STATIC).as_posix()}" for p in APP_JS}
    assert modules <= set(precached)
    assert "/app/static/vendor/idb/index.js" in precached


def test_the_manifest_makes_the_app_installable(client):
    response = get(client, "/app/manifest.webmanifest")
    assert response.content_type == "application/manifest+json"
    manifest = json.loads(response.data)
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("/app/today", "/app/", "standalone")
    sizes = {icon["sizes"] for icon in manifest["icons"] if icon["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert get(client, icon["src"]).status_code == 200


def test_the_catalogues_are_served_from_the_servers_own_files(client):
    for language in LANGUAGES:
        assert get(client, f"/app/i18n/{language}.json").get_json() == catalogue(language)
    assert get(client, "/app/i18n/de.json").status_code == 404


# --- the shared catalogues ---------------------------------------------------------------------


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != DEFAULT])
def test_every_language_has_every_message_with_the_same_placeholders(language):
    english, other = catalogue(DEFAULT), catalogue(language)
    assert set(other) == set(english)
    for key, text in english.items():
        assert _placeholders(other[key]) == _placeholders(text), key


def test_every_message_the_app_asks_for_is_in_the_catalogue():
    keys = set(catalogue(DEFAULT))
    source = "\n".join(p.read_text() for p in APP_JS)
    asked = set(re.findall(r"\bt\(\s*'([a-z_.]+)'", source))
    counted = {f"{key}.{form}" for key in re.findall(r"\bplural\(\s*'([a-z_.]+)'", source) for form in ("one", "other")}
    assert asked - keys == set() and counted - keys == set()


def test_the_server_reads_the_same_catalogues_with_a_fallback_to_english():
    assert language_for("fr-CA") == "fr" and language_for("de") == "en" and language_for(None) == "en"
    assert translate("es", "push.test", clinic="Clínica Sol") == (
        "Las notificaciones de Clínica Sol están activadas en este teléfono."
    )


# --- the invitation opens the app --------------------------------------------------------------


def test_the_invitation_qr_code_opens_the_apps_activation_screen(app):
    from hep.web.patients import activation_link

    with app.test_request_context("/patients/new", base_url="https://clinic.example.org"):
        assert activation_link("ABCDE-FGHIJ") == "https://clinic.example.org/app/activate?code=ABCDE-FGHIJ"


@pytest.mark.parametrize("app_config", [{"ACTIVATION_LINK": "https://hep.example.org/app/activate?code={code}"}])
def test_a_full_activation_link_is_used_as_it_is(app, app_config):
    from hep.web.patients import activation_link

    with app.test_request_context("/patients/new", base_url="http://10.0.0.5:8000"):
        assert activation_link("ABCDE-FGHIJ") == "https://hep.example.org/app/activate?code=ABCDE-FGHIJ"
