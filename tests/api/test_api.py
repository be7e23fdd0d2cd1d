"""The REST API: tokens, scoping, viral loads, exports, the day-90 analysis."""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import select

from tests.api.conftest import ApiWorld
from trialdb.db import make_session_factory
from trialdb.models import ApiToken, AuditEvent, ViralLoadResult


def _get(world: ApiWorld, path: str, who: str = "statistician", **kwargs: object):
    headers = {"Authorization": f"Bearer {world.tokens[who]}"} if who else {}
    return world.app.test_client().get(f"/api/v1{path}", headers=headers, **kwargs)


def _post(world: ApiWorld, path: str, body: object, who: str = "statistician"):
    return world.app.test_client().post(f"/api/v1{path}", json=body,
                                        headers={"Authorization": f"Bearer {world.tokens[who]}"})


def test_openapi_document_is_served_without_a_token(api_world: ApiWorld) -> None:
    answer = api_world.app.test_client().get("/api/v1/openapi.json")
    assert answer.status_code == 200 and answer.json["openapi"].startswith("3.0")
    assert "/participants/{study_number}/viral-loads" in answer.json["paths"]


def test_tokens_are_required_and_revocable(api_world: ApiWorld) -> None:
    client = api_world.app.test_client()
    assert client.get("/api/v1/participants").status_code == 401
    answer = client.get("/api/v1/participants", headers={"Authorization": f"Bearer {api_world.revoked}"})
    assert answer.status_code == 401 and answer.json["messages"]["fr"].startswith("Ce jeton")
    assert client.get("/api/v1/participants", headers={"Authorization": "Bearer tdb_nope"}).status_code == 401
    with make_session_factory(api_world.engine)() as session:
        stored = session.scalars(select(ApiToken.token_sha256)).all()
    assert all(token not in stored for token in api_world.tokens.values())
    assert all(len(h) == 64 for h in stored)


def test_participants_are_limited_to_the_owners_sites(api_world: ApiWorld) -> None:
    cohort = api_world.cohort
    everyone = _get(api_world, "/participants").json
    assert everyone["total"] == 6
    mine = _get(api_world, "/participants", "coordinator").json
    assert {p["study_number"] for p in mine["items"]} == {
        cohort.reactivated.study_number, cohort.child.study_number, cohort.excluded.study_number,
        cohort.never_consented.study_number, cohort.no_infusion.study_number}
    assert _get(api_world, f"/participants/{cohort.elsewhere.study_number}", "coordinator").status_code == 404
    one = _get(api_world, f"/participants/{cohort.reactivated.study_number}", "coordinator").json
    assert one["infused_on"] == "2026-03-10" and one["age_at_infusion"] == 55
    assert "birth_year" not in one
    page = _get(api_world, "/participants?limit=2&offset=1").json
    assert len(page["items"]) == 2 and page["offset"] == 1
    assert _get(api_world, "/participants?limit=0").status_code == 422


def test_viral_loads_list_and_create(api_world: ApiWorld) -> None:
    cohort = api_world.cohort
    number = cohort.reactivated.study_number
    listed = _get(api_world, f"/participants/{number}/viral-loads", "coordinator").json["items"]
    cmv14 = next(r for r in listed if r["study_day"] == 14 and r["virus"] == "CMV")
    assert cmv14["value"] == 5951 and round(cmv14["log10"], 8) == 3.77458995
    body = {"sampled_on": "28/03/2026", "virus": "CMV", "specimen": "plasma",
            "assay_id": cohort.cmv_copies.id, "result": "1,2E+03", "unit": "copies/mL"}
    created = _post(api_world, f"/participants/{number}/viral-loads", body, "coordinator")
    assert created.status_code == 201, created.json
    item = created.json["items"][0]
    assert item["value"] == 1200 and item["study_day"] == 18 and item["state"] == "quantified"
    with make_session_factory(api_world.engine)() as session:
        assert session.get(ViralLoadResult, item["id"]) is not None
        event = session.scalar(select(AuditEvent).where(AuditEvent.entity == "viral_load_result",
                                                        AuditEvent.entity_id == item["id"]))
        assert event is not None and event.action == "create"
    bad = _post(api_world, f"/participants/{number}/viral-loads", {**body, "result": "3,5 log"},
                "coordinator")
    assert bad.status_code == 422 and bad.json["rows"][0]["errors"]["result"]
    assert _post(api_world, f"/participants/{number}/viral-loads", body, "statistician").status_code == 403
    assert _post(api_world, f"/participants/{number}/viral-loads", body, "other_coordinator"
                 ).status_code == 404


def test_exports_start_and_download(api_world: ApiWorld) -> None:
    started = _post(api_world, "/exports", {"formats": ["csv", "parquet"]})
    assert started.status_code == 201, started.json
    export = started.json
    assert export["manifest"]["snapshot"]["id"] == export["snapshot_id"]
    again = _get(api_world, f"/exports/{export['id']}").json
    assert again["manifest_sha256"] == export["manifest_sha256"]
    download = _get(api_world, f"/exports/{export['id']}/download")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    assert "manifest.json" in names and "csv/viral_loads.csv" in names
    assert _post(api_world, "/exports", {"formats": ["csv"]}, "coordinator").status_code == 403
    assert _get(api_world, f"/exports/{export['id']}", "coordinator").status_code == 403
    assert _post(api_world, "/exports", {"formats": ["pdf"]}).status_code == 422


def test_day90_analysis_for_study_wide_owners(api_world: ApiWorld) -> None:
    answer = _get(api_world, "/analyses/day90")
    assert answer.status_code == 200, answer.json
    assert answer.json["n"] >= 1 and len(answer.json["settings_hash"]) == 64
    assert _get(api_world, "/analyses/day90", "coordinator").status_code == 403
