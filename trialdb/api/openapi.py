"""The OpenAPI 3.0 document of the REST API, written as data.

The API's tests check every answer against it (schemathesis), so the
document and the views cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Any, Final

from trialdb.exports.formats import FORMATS
from trialdb.vocab import LoadUnit, ParticipantStatus, ResultState, Sex, Specimen, StudyPart, Virus


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    texts = {400: "Malformed request", 401: "Missing, unknown, revoked or expired token",
             403: "The token's owner may not do this", 404: "Not found (or not visible to the owner)",
             409: "Conflict", 413: "Request too large", 422: "Invalid input"}
    return {str(code): _json(_ref("Error"), texts[code]) for code in codes}


_STRING_CODES: Final = {"type": "string"}
_DATE: Final = {"type": "string", "format": "date"}

SCHEMAS: Final[dict[str, Any]] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "messages": {"type": "object", "properties": {"en": _STRING_CODES, "fr": _STRING_CODES}},
            "field": {"type": "string", "nullable": True},
            "rows": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Participant": {
        "type": "object",
        "required": ["study_number", "site_code", "part", "sex", "status", "screened_on",
                     "included_on", "infused_on", "age_at_infusion"],
        "additionalProperties": False,
        "properties": {
            "study_number": {"type": "string", "example": "PSL-0001"},
            "site_code": {"type": "string"},
            "part": {"type": "string", "enum": StudyPart.values()},
            "sex": {"type": "string", "enum": Sex.values()},
            "status": {"type": "string", "enum": ParticipantStatus.values()},
            "screened_on": _DATE,
            "included_on": {**_DATE, "nullable": True},
            "infused_on": {**_DATE, "nullable": True},
            "age_at_infusion": {"type": "integer", "nullable": True},
        },
    },
    "ParticipantList": {
        "type": "object", "required": ["items", "total", "limit", "offset"], "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": _ref("Participant")},
                       "total": {"type": "integer", "minimum": 0},
                       "limit": {"type": "integer"}, "offset": {"type": "integer"}},
    },
    "ViralLoad": {
        "type": "object",
        "required": ["id", "study_number", "sampled_on", "study_day", "virus", "specimen", "assay_id",
                     "assay", "state", "value", "unit", "log10", "reported_as"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "study_number": {"type": "string"},
            "sampled_on": _DATE,
            "study_day": {"type": "integer", "nullable": True},
            "virus": {"type": "string", "enum": Virus.values()},
            "specimen": {"type": "string", "enum": Specimen.values()},
            "assay_id": {"type": "integer"},
            "assay": {"type": "string"},
            "state": {"type": "string", "enum": ResultState.values()},
            "value": {"type": "number", "nullable": True},
            "unit": {"type": "string", "enum": LoadUnit.values()},
            "log10": {"type": "number", "nullable": True},
            "reported_as": {"type": "string", "nullable": True},
        },
    },
    "ViralLoadList": {
        "type": "object", "required": ["items"], "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": _ref("ViralLoad")}},
    },
    "ViralLoadInput": {
        "type": "object", "required": ["sampled_on", "virus", "specimen", "assay_id", "result"],
        "properties": {
            "sampled_on": {"type": "string", "description": "2026-11-21 or 21/11/2026"},
            "virus": {"type": "string", "enum": Virus.values()},
            "specimen": {"type": "string", "enum": Specimen.values()},
            "assay_id": {"type": "integer"},
            "result": {"type": "string", "description": "As printed: 5951, <62, ND, 1,2E+04..."},
            "unit": {"type": "string", "description": "copies/mL or IU/mL (default: the assay's)"},
        },
    },
    "ExportRequest": {
        "type": "object", "required": ["formats"],
        "properties": {
            "formats": {"type": "array", "minItems": 1, "uniqueItems": True,
                        "items": {"type": "string", "enum": list(FORMATS)}},
            "snapshot_id": {"type": "integer", "nullable": True,
                            "description": "Snapshot to export (default: freeze the data now)"},
            "xpt_ascii": {"type": "string", "enum": ["refuse", "transliterate"], "default": "refuse",
                          "description": "Non-ASCII text in xpt files: refuse the export, or "
                                         "transliterate it (NFKD, accents removed; in the manifest)"},
        },
    },
    "Export": {
        "type": "object", "required": ["id", "snapshot_id", "formats", "created_at", "manifest_sha256",
                                       "download"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"}, "snapshot_id": {"type": "integer"},
            "formats": {"type": "array", "items": {"type": "string"}},
            "created_at": {"type": "string", "format": "date-time"},
            "manifest_sha256": {"type": "string"},
            "download": {"type": "string"},
            "manifest": {"type": "object"},
        },
    },
    "Day90Analysis": {
        "type": "object", "required": ["settings_hash", "n", "d90_cumulative_incidence"],
        "properties": {"settings_hash": {"type": "string"}, "n": {"type": "integer"},
                       "d90_cumulative_incidence": {"type": "object"}},
    },
}

_STUDY_NUMBER: Final = {"name": "study_number", "in": "path", "required": True,
                        "schema": {"type": "string", "maxLength": 11}}
_EXPORT_ID: Final = {"name": "export_id", "in": "path", "required": True,
                     "schema": {"type": "integer", "minimum": 1, "maximum": 2_147_483_647}}


def document(server: str = "/api/v1") -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "trialdb REST API", "version": "1",
                 "description": "NCT06058858 data with a personal token (Authorization: Bearer tdb_...). "
                                "A token acts with its owner's role and sites."},
        "servers": [{"url": server}],
        "security": [{"token": []}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "paths": {
            "/participants": {"get": {
                "operationId": "listParticipants", "summary": "Participants of the owner's sites",
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"type": "string",
                                                                 "enum": ParticipantStatus.values()}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                                 "default": 0}},
                ],
                "responses": {"200": _json(_ref("ParticipantList"), "A page of participants"),
                              **_errors(400, 401, 422)},
            }},
            "/participants/{study_number}": {"get": {
                "operationId": "getParticipant", "parameters": [_STUDY_NUMBER],
                "responses": {"200": _json(_ref("Participant"), "The participant"),
                              **_errors(400, 401, 404)},
            }},
            "/participants/{study_number}/viral-loads": {
                "get": {
                    "operationId": "listViralLoads", "parameters": [_STUDY_NUMBER],
                    "responses": {"200": _json(_ref("ViralLoadList"), "The participant's results"),
                                  **_errors(400, 401, 404)},
                },
                "post": {
                    "operationId": "createViralLoad", "parameters": [_STUDY_NUMBER],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": _ref("ViralLoadInput")}}},
                    "responses": {"201": _json(_ref("ViralLoadList"), "The result stored"),
                                  **_errors(400, 401, 403, 404, 409, 413, 422)},
                },
            },
            "/exports": {"post": {
                "operationId": "startExport",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _ref("ExportRequest")}}},
                "responses": {"201": _json(_ref("Export"), "The export, made"),
                              **_errors(400, 401, 403, 404, 413, 422)},
            }},
            "/exports/{export_id}": {"get": {
                "operationId": "getExport", "parameters": [_EXPORT_ID],
                "responses": {"200": _json(_ref("Export"), "The export and its manifest"),
                              **_errors(400, 401, 403, 404)},
            }},
            "/exports/{export_id}/download": {"get": {
                "operationId": "downloadExport", "parameters": [_EXPORT_ID],
                "responses": {"200": {"description": "The bundle as a zip file",
                                      "content": {"application/zip": {"schema": {
                                          "type": "string", "format": "binary"}}}},
                              **_errors(400, 401, 403, 404)},
            }},
            "/analyses/day90": {"get": {
                "operationId": "day90Analysis",
                "summary": "Cumulative incidence of CMV reactivation at day 90 (study-wide owners only)",
                "responses": {"200": _json(_ref("Day90Analysis"), "The primary analysis"),
                              **_errors(400, 401, 403, 422)},
            }},
        },
    }
