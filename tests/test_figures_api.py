"""Serving figures: GET /exercises/{slug}/figure.svg, its caching, and clinic exercises' figures."""

from __future__ import annotations

import copy

import pytest

from tests.factories import FIGURE, exercise_data


@pytest.fixture
def physio(make):
    return make.physio()


@pytest.fixture
def headers(make, physio):
    return make.headers(physio)


@pytest.fixture
def drawn(make):
    return make.exercise(slug="drawn-exercise", name="Seated knee straightening", figure=FIGURE)


def figure_url(client, headers, slug: str) -> str:
    media = client.get(f"/api/v1/exercises/{slug}", headers=headers).json["media"]
    figures = [m for m in media if m["type"] == "figure"]
    assert len(figures) == 1
    return figures[0]["url"]


def test_the_figure_is_listed_in_media_with_its_version(client, headers, drawn):
    url = figure_url(client, headers, "drawn-exercise")
    assert url.startswith("/api/v1/exercises/drawn-exercise/figure.svg?v=")


def test_the_figure_is_svg_with_a_strong_etag_and_a_year_of_caching_at_its_versioned_url(client, headers, drawn):
    response = client.get(figure_url(client, headers, "drawn-exercise"), headers=headers)
    assert response.status_code == 200
    assert response.content_type == "image/svg+xml; charset=utf-8"
    assert b"<title>Seated knee straightening</title>" in response.data
    assert response.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = client.get(figure_url(client, headers, "drawn-exercise"), headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304


def test_without_the_version_the_figure_is_cached_briefly(client, headers, drawn):
    response = client.get("/api/v1/exercises/drawn-exercise/figure.svg?v=old", headers=headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, max-age=3600"


def test_side_frame_and_static_variants(client, headers, drawn):
    base = "/api/v1/exercises/drawn-exercise/figure.svg"
    right = client.get(base + "?side=right", headers=headers).data
    assert client.get(base + "?side=left", headers=headers).data != right
    assert client.get(base + "?side=both", headers=headers).data == client.get(base, headers=headers).data
    still = client.get(base + "?frame=2", headers=headers).data
    assert b"<animate" not in still
    assert b"<animate" in client.get(base, headers=headers).data
    assert b"<animate" not in client.get(base + "?static=1", headers=headers).data


def test_a_keyframe_the_figure_lacks_is_a_clear_error(client, headers, drawn):
    response = client.get("/api/v1/exercises/drawn-exercise/figure.svg?frame=3", headers=headers)
    assert response.status_code == 422
    assert response.json["invalid_params"] == [
        {"name": "frame", "location": "query", "reason": "this figure has keyframes 1 to 2"}
    ]


def test_an_exercise_without_a_figure_has_none_to_serve(client, headers, make):
    make.exercise(slug="undrawn")
    assert client.get("/api/v1/exercises/undrawn/figure.svg", headers=headers).status_code == 404
    assert client.get("/api/v1/exercises/undrawn", headers=headers).json["media"] == []


def test_a_clinic_exercise_can_be_created_with_a_figure(client, headers):
    body = exercise_data(slug="own-knee", figure=FIGURE)
    assert client.post("/api/v1/exercises", json=body, headers=headers).status_code == 201
    response = client.get("/api/v1/exercises/own-knee/figure.svg", headers=headers)
    assert response.status_code == 200


def test_a_bad_figure_is_refused_naming_the_keyframe_and_joint(client, headers):
    figure = copy.deepcopy(FIGURE)
    figure["frames"][1]["knee_r"] = 200
    response = client.post("/api/v1/exercises", json=exercise_data(slug="own-bad", figure=figure), headers=headers)
    assert response.status_code == 422
    assert response.json["invalid_params"] == [
        {
            "name": "figure.frames.1.knee_r",
            "location": "json",
            "reason": "flex 200 is outside the human range -5 to 155",
        }
    ]
    assert client.get("/api/v1/exercises/own-bad", headers=headers).status_code == 404


def test_a_figure_prop_must_be_in_the_exercise_equipment(client, headers):
    figure = {**FIGURE, "props": [{"prop": "dumbbell", "at": "hand_r"}]}
    response = client.post("/api/v1/exercises", json=exercise_data(slug="own-prop", figure=figure), headers=headers)
    assert response.status_code == 422
    assert response.json["invalid_params"][0]["name"] == "figure.props.0.prop"


def test_a_clinic_exercise_can_take_a_library_exercise_figure(client, headers, drawn):
    body = exercise_data(slug="own-copy", figure_from="drawn-exercise")
    assert client.post("/api/v1/exercises", json=body, headers=headers).status_code == 201
    response = client.patch("/api/v1/exercises/own-copy", json={"figure": None}, headers=headers)
    assert response.status_code == 200
    assert client.get("/api/v1/exercises/own-copy/figure.svg", headers=headers).status_code == 404


def test_figure_from_an_exercise_without_one_is_refused(client, headers, make):
    make.exercise(slug="undrawn")
    response = client.post(
        "/api/v1/exercises", json=exercise_data(slug="own-x", figure_from="undrawn"), headers=headers
    )
    assert response.status_code == 422
    assert response.json["invalid_params"][0]["name"] == "figure_from"


def test_another_clinic_cannot_see_a_clinic_figure(client, make, headers):
    other = make.clinic()
    make.exercise(other, slug="their-own", figure=FIGURE)
    assert client.get("/api/v1/exercises/their-own/figure.svg", headers=headers).status_code == 404
