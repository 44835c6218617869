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
# Reads and writes as separate tests, so parallel workers (pytest-xdist) can share the fuzzing out.
reads, writes = schema.include(method="GET"), schema.exclude(method="GET")


@pytest.fixture
def physio(make):
    physio = make.physio()
    make.exercise(physio.clinic, slug="clinic-one")
    make.exercise(slug="library-one", progressions=["library-two"])
    make.exercise(slug="library-two", regressions=["library-one"], difficulty=2)
    make.patient(physio.clinic, physio)
    return physio


FUZZ = settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def on_sqlite_only(backend):
    # A patient's calls are mostly refused at the object-rule check, before anything database-specific
    # runs; the physiotherapist's fuzzing covers PostgreSQL. This keeps the suite within its time budget.
    if backend != "sqlite":
        pytest.skip("patient-role fuzzing runs on SQLite; the physiotherapist's covers PostgreSQL")


@reads.parametrize()
@FUZZ
def test_fuzz_reads_as_physiotherapist(case, make, physio):
    case.call_and_validate(headers=make.headers(physio), checks=CHECKS)


@writes.parametrize()
@FUZZ
def test_fuzz_writes_as_physiotherapist(case, make, physio):
    case.call_and_validate(headers=make.headers(physio), checks=CHECKS)


@reads.parametrize()
@FUZZ
def test_fuzz_reads_as_patient(case, make, physio, on_sqlite_only):
    patient = make.patient(physio.clinic, physio)
    case.call_and_validate(headers=make.headers(patient), checks=CHECKS)


@writes.parametrize()
@FUZZ
def test_fuzz_writes_as_patient(case, make, physio, on_sqlite_only):
    patient = make.patient(physio.clinic, physio)
    case.call_and_validate(headers=make.headers(patient), checks=CHECKS)
