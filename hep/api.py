"""The flask-smorest Api, speaking problem details for every error."""

from __future__ import annotations

import http

import marshmallow as ma
from flask import Response, current_app, url_for
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from flask_smorest.utils import prepare_response
from webargs.core import is_json
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from hep import api_docs, inputs
from hep.errors import PROBLEM_CONTENT_TYPE, flatten_messages, problem


class StrictParser(FlaskParser):
    """Reject unknown query parameters as well as unknown body fields, instead of ignoring them, and
    decode JSON bodies with hep.inputs' strict rules."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
    }

    def load_json(self, req, schema):
        """The body of a route that takes JSON: present, sent as JSON, and valid (else 400 or 415)."""
        raw = req.get_data(cache=True)
        if not raw.strip():
            # Decided: a route that takes a body needs one, even a PATCH (send {} to change nothing).
            raise inputs.BadRequest("The request has no body; this endpoint takes a JSON object.", "is missing")
        if not is_json(req.mimetype):
            sent = req.mimetype or "no Content-Type"
            raise inputs.UnsupportedMediaType(
                f"This endpoint takes application/json; the body was sent as {sent}.",
                invalid_params=[
                    {"name": "Content-Type", "location": "header", "reason": f"must be application/json, not {sent}"}
                ],
            )
        return inputs.parse_json(raw)


class Blueprint(SmorestBlueprint):
    """A flask-smorest Blueprint with the strict argument parser."""

    ARGUMENTS_PARSER = StrictParser()


class InvalidParamSchema(ma.Schema):
    name = ma.fields.String(required=True, metadata={"description": "Offending field, dotted path"})
    location = ma.fields.String(required=True, metadata={"description": "json, query, path or header"})
    reason = ma.fields.String(required=True)


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    type = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)
    invalid_params = ma.fields.List(ma.fields.Nested(InvalidParamSchema))


class Api(SmorestApi):
    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException):
        """Render any HTTP error (including webargs validation) as problem details."""
        if error.code == 304:
            return Response(status=304)
        data = getattr(error, "data", None) or {}
        headers = dict(data.get("headers") or {})
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        messages = data.get("messages") or data.get("errors")
        if error.code == 422 and messages:
            params = flatten_messages(messages)
            names = ", ".join(sorted({p["name"] for p in params}))
            return problem(
                422,
                code="validation-error",
                title="Validation failed",
                detail=f"Invalid input: {names}.",
                invalid_params=params,
                headers=headers,
            )
        if error.code == 413:
            limit = current_app.config.get("MAX_CONTENT_LENGTH")
            return problem(
                413,
                code="too-large",
                detail=f"The request body is larger than the {limit} bytes this server accepts.",
                headers=headers,
            )
        if error.code == 500:
            current_app.logger.error("unhandled error", exc_info=getattr(error, "original_exception", None))
            return problem(500, detail="Something went wrong on our side; it has been logged.")
        detail = data.get("message") or error.description or None
        return problem(error.code or 500, detail=detail, headers=headers)

    def _openapi_swagger_ui(self):
        """Swagger UI from HEP's own copy (or the configured CDN), under a strict CSP."""
        spec_url = url_for(f"{self._make_doc_blueprint_name()}.openapi_json")
        return api_docs.swagger_ui_page(self.spec.title, spec_url, self.config.get("OPENAPI_SWAGGER_UI_CONFIG", {}))

    def _register_responses(self):
        """Document error responses as application/problem+json with the ProblemSchema."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if 100 <= status < 200 or status in (204, 304):
                prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            elif status < 400:
                response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            else:
                response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (RFC 9457 problem details)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)
