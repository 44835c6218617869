"""Property-based fuzzing of the whole OpenAPI document with schemathesis, in-process.

Signed in as a physiotherapist and as a patient, every generated request must get an answer
that is not a server error and that matches the documented status codes, content types,
headers and response schemas.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def physio(make):
    physio = make.physio()
    make.exercise(physio.clinic, slug="clinic-one")
    make.exercise(slug="library-one", progressions=["library-two"])
    make.exercise(slug="library-two", regressions=["library-one"], difficulty=2)
    make.patient(physio.clinic, physio)
    return physio


FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


@schema.parametrize()
@FUZZ
def test_fuzz_as_physiotherapist(case, make, physio):
    case.call_and_validate(headers=make.headers(physio), checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_fuzz_as_patient(case, make, physio):
    patient = make.patient(physio.clinic, physio)
    case.call_and_validate(headers=make.headers(patient), checks=CHECKS)
