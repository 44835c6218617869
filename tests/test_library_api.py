"""Searching, fetching and caching exercises; a clinic's own exercises."""

from __future__ import annotations

import pytest

from tests.factories import exercise_data


@pytest.fixture
def physio(make):
    return make.physio()


@pytest.fixture
def headers(make, physio):
    return make.headers(physio)


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["slug"] for item in response.json["items"]]


def test_free_text_matches_name_summary_and_steps_with_every_word(client, make, headers):
    make.exercise(slug="by-name", name="Chin tuck lying")
    make.exercise(slug="by-summary", summary="Wakes up the deep chin muscles gently.")
    make.exercise(slug="by-step", steps=["Lie down.", "Tuck your chin softly.", "Relax."])
    make.exercise(slug="unrelated", name="Calf raise")
    assert slugs(client.get("/api/v1/exercises?q=chin", headers=headers)) == ["by-name", "by-summary", "by-step"]
    assert slugs(client.get("/api/v1/exercises?q=CHIN+tuck", headers=headers)) == ["by-name", "by-step"]


def test_free_text_treats_wildcards_literally(client, make, headers):
    make.exercise(slug="plain", name="Wall slide")
    assert slugs(client.get("/api/v1/exercises?q=%25", headers=headers)) == []
    assert slugs(client.get("/api/v1/exercises?q=w_ll", headers=headers)) == []


def test_free_text_finds_the_escape_character_and_wildcards_as_written(client, make, headers):
    make.exercise(slug="split", name="Squat 50/50 weight", summary="Keep 100% control; tempo 3_1.")
    make.exercise(slug="other", name="Squat 5050 weight", summary="Keep 100 control; tempo 31.")
    for q in ("50/50", "100%25", "3_1"):
        assert slugs(client.get(f"/api/v1/exercises?q={q}", headers=headers)) == ["split"], q


def test_filters_combine_across_facets_and_any_of_within_one(client, make, headers):
    make.exercise(slug="neck-band", body_regions=["neck"], equipment=["resistance-band"], difficulty=2)
    make.exercise(slug="shoulder-band", body_regions=["shoulder"], equipment=["resistance-band"], difficulty=4)
    make.exercise(slug="neck-none", body_regions=["neck"], equipment=[], difficulty=1)
    url = "/api/v1/exercises?equipment=resistance-band"
    assert slugs(client.get(url + "&region=neck", headers=headers)) == ["neck-band"]
    assert sorted(slugs(client.get(url + "&region=neck&region=shoulder", headers=headers))) == [
        "neck-band",
        "shoulder-band",
    ]
    assert slugs(client.get("/api/v1/exercises?min_difficulty=2&max_difficulty=3", headers=headers)) == ["neck-band"]


def test_filter_by_condition_and_category(client, make, headers):
    make.exercise(slug="glide", conditions=["carpal-tunnel"], category="nerve-glide")
    make.exercise(slug="stretch", conditions=["carpal-tunnel"], category="stretch")
    url = "/api/v1/exercises?condition=carpal-tunnel&category=nerve-glide"
    assert slugs(client.get(url, headers=headers)) == ["glide"]


def test_unknown_filter_value_is_a_clear_error(client, headers):
    response = client.get("/api/v1/exercises?region=elbowz", headers=headers)
    assert response.status_code == 422
    assert response.json["invalid_params"][0] == {
        "name": "region.0",
        "location": "query",
        "reason": response.json["invalid_params"][0]["reason"],
    }


def test_unknown_query_parameter_is_rejected(client, headers):
    response = client.get("/api/v1/exercises?colour=red", headers=headers)
    assert response.status_code == 422
    assert response.json["invalid_params"][0]["name"] == "colour"


def test_cursor_pagination_walks_every_item_once_in_name_order(client, make, headers):
    for i in range(7):
        make.exercise(slug=f"ex-{i}", name=f"Exercise {i % 3} {i}")
    seen, cursor = [], None
    while True:
        url = "/api/v1/exercises?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).json
        assert len(page["items"]) <= 3
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == 7


def test_a_search_result_says_what_the_exercise_says(client, make, headers, physio):
    make.exercise(
        slug="ex-tagged",
        body_regions=["upper-back", "neck"],
        conditions=["neck-pain", "tension-headache"],
        equipment=["towel", "chair"],
    )
    make.exercise(slug="ex-clinic", clinic=physio.clinic, body_regions=["shoulder"], equipment=[])
    results = {item["slug"]: item for item in client.get("/api/v1/exercises?limit=100", headers=headers).json["items"]}
    for slug in ("ex-tagged", "ex-clinic"):
        detail = client.get(f"/api/v1/exercises/{slug}", headers=headers).json
        assert results[slug] == {key: detail[key] for key in results[slug]}  # tags in their written order too
    assert results["ex-tagged"]["equipment"] == ["towel", "chair"] and results["ex-clinic"]["owner"] == "clinic"


def test_page_size_is_capped(client, headers):
    response = client.get("/api/v1/exercises?limit=101", headers=headers)
    assert response.status_code == 422
    assert response.json["invalid_params"][0]["name"] == "limit"


def test_a_forged_cursor_is_a_clear_error(client, headers):
    for cursor in ("not-base64!", "WzEsMiwzXQ", "WyJhIiwgInN0cmluZyJd"):
        response = client.get(f"/api/v1/exercises?cursor={cursor}", headers=headers)
        assert response.status_code == 422
        assert response.json["invalid_params"][0]["name"] == "cursor"


def test_exercise_detail_resolves_progressions_and_regressions(client, make, headers):
    make.exercise(slug="easy", name="Easy", progressions=["hard"])
    make.exercise(slug="hard", name="Hard", difficulty=3, regressions=["easy"])
    body = client.get("/api/v1/exercises/easy", headers=headers).json
    assert body["progressions"] == [{"slug": "hard", "name": "Hard", "difficulty": 3}]
    assert body["steps"][0] == "Sit tall."
    assert body["owner"] == "library"


def test_exercise_read_has_a_strong_etag_and_answers_304(client, make, headers):
    make.exercise(slug="cached")
    first = client.get("/api/v1/exercises/cached", headers=headers)
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    again = client.get("/api/v1/exercises/cached", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_etag_changes_when_the_exercise_changes(client, make, headers, physio):
    make.exercise(physio.clinic, slug="ours")
    etag = client.get("/api/v1/exercises/ours", headers=headers).headers["ETag"]
    client.patch("/api/v1/exercises/ours", headers=headers, json={"name": "Ours, renamed"})
    changed = client.get("/api/v1/exercises/ours", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json["name"] == "Ours, renamed"


def test_unknown_exercise_is_404(client, headers):
    response = client.get("/api/v1/exercises/no-such-thing", headers=headers)
    assert response.status_code == 404
    assert response.json["type"] == "urn:hep:problem:not-found"


def test_clinic_creates_its_own_exercise_with_a_derived_slug(client, headers):
    body = exercise_data(name="Towel neck stretch")
    del body["slug"]
    response = client.post("/api/v1/exercises", headers=headers, json=body)
    assert response.status_code == 201, response.json
    assert response.json["slug"] == "towel-neck-stretch"
    assert response.json["owner"] == "clinic"


def test_retrying_a_create_is_a_conflict_not_a_duplicate(client, headers):
    body = exercise_data(name="Retry me")
    del body["slug"]
    assert client.post("/api/v1/exercises", headers=headers, json=body).status_code == 201
    retry = client.post("/api/v1/exercises", headers=headers, json=body)
    assert retry.status_code == 409
    assert len(client.get("/api/v1/exercises?q=retry", headers=headers).json["items"]) == 1


def test_clinic_exercise_is_invisible_to_other_clinics(client, make, headers, physio):
    make.exercise(physio.clinic, slug="secret-sauce")
    outsider = make.headers(make.physio())
    assert client.get("/api/v1/exercises/secret-sauce", headers=outsider).status_code == 404
    assert slugs(client.get("/api/v1/exercises?q=test", headers=outsider)) == []
    assert slugs(client.get("/api/v1/exercises?owner=clinic", headers=headers)) == ["secret-sauce"]


def test_clinic_exercise_slug_cannot_shadow_the_library(client, make, headers):
    make.exercise(slug="taken")
    response = client.post("/api/v1/exercises", headers=headers, json=exercise_data(slug="taken"))
    assert response.status_code == 409
    assert response.json["invalid_params"][0]["name"] == "slug"


def test_clinic_exercise_links_must_exist(client, headers):
    response = client.post("/api/v1/exercises", headers=headers, json=exercise_data(progressions=["imaginary"]))
    assert response.status_code == 422
    assert response.json["invalid_params"][0]["name"] == "progressions"


def test_archiving_hides_from_search_but_keeps_it_readable(client, make, headers, physio):
    make.exercise(physio.clinic, slug="old-one")
    assert client.patch("/api/v1/exercises/old-one", headers=headers, json={"archived": True}).status_code == 200
    assert slugs(client.get("/api/v1/exercises", headers=headers)) == []
    assert slugs(client.get("/api/v1/exercises?include_archived=true", headers=headers)) == ["old-one"]
    assert client.get("/api/v1/exercises/old-one", headers=headers).json["archived"] is True
    client.patch("/api/v1/exercises/old-one", headers=headers, json={"archived": False})
    assert slugs(client.get("/api/v1/exercises", headers=headers)) == ["old-one"]


def test_library_exercises_are_read_only(client, make, headers):
    make.exercise(slug="shared")
    response = client.patch("/api/v1/exercises/shared", headers=headers, json={"name": "Mine now"})
    assert response.status_code == 403


def test_patients_can_read_but_not_write_exercises(client, make):
    make.exercise(slug="readable")
    patient = make.headers(make.patient())
    assert client.get("/api/v1/exercises/readable", headers=patient).status_code == 200
    assert client.post("/api/v1/exercises", headers=patient, json=exercise_data()).status_code == 403


def test_partial_dosage_in_an_edit_is_rejected(client, make, headers, physio):
    make.exercise(physio.clinic, slug="dosed")
    response = client.patch("/api/v1/exercises/dosed", headers=headers, json={"default_dosage": {"reps": 5}})
    assert response.status_code == 422
    assert response.json["invalid_params"][0]["name"] == "default_dosage.sets"
