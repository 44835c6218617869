"""/api/docs: Swagger UI from HEP's own files under a strict CSP, or from a CDN when one is set."""

from __future__ import annotations

import pytest

from hep.api_docs import VERSION


def test_the_docs_page_loads_only_this_servers_files(client):
    page = client.get("/api/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'src="/api/docs/assets/swagger-ui-bundle.js?v={VERSION}"' in html
    assert "https://" not in html
    assert "<script>" not in html  # no inline script: the CSP allows none
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp


def test_swagger_uis_files_are_served_and_kept(client):
    with client.get(f"/api/docs/assets/swagger-ui-bundle.js?v={VERSION}") as bundle:
        assert bundle.status_code == 200
        assert bundle.headers["Cache-Control"] == "public, max-age=604800"
    with client.get("/api/docs/assets/LICENSE") as licence:
        assert "Apache License" in licence.get_data(as_text=True)
    assert client.get("/api/docs/assets/index.html").status_code == 404


def test_the_page_has_a_favicon(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert 'rel="icon" type="image/svg+xml" href="/app/static/icons/icon.svg"' in html
    with client.get("/app/static/icons/icon.svg") as icon:
        assert icon.status_code == 200


@pytest.mark.parametrize("app_config", [{"OPENAPI_SWAGGER_UI_URL": "https://cdn.example.org/swagger-ui-dist@5.34.0"}])
def test_a_cdn_can_serve_swagger_ui_instead(client):
    page = client.get("/api/docs")
    assert 'src="https://cdn.example.org/swagger-ui-dist@5.34.0/swagger-ui-bundle.js"' in page.get_data(as_text=True)
    assert "script-src 'self' https://cdn.example.org;" in page.headers["Content-Security-Policy"]
