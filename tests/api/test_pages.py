"""The Exports page and the laboratory upload page, signed in through the web app."""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import func, select

from tests.api.conftest import ApiWorld
from tests.web.conftest import csrf_token, sign_in
from trialdb.db import make_session_factory
from trialdb.models import LabImportBatch, ViralLoadResult


def test_exports_page_makes_and_serves_a_bundle(api_world: ApiWorld) -> None:
    with api_world.app.test_client() as client:
        sign_in(client, api_world.emails["statistician"])
        page = client.get("/exports")
        assert page.status_code == 200
        token = csrf_token(client, "/exports")
        made = client.post("/exports", data={"formats": ["csv", "parquet"], "snapshot_id": "",
                                             "csrf_token": token})
        assert made.status_code == 302
        export_id = int(made.headers["Location"].rsplit("done=", 1)[1])
        listed = client.get(f"/exports?done={export_id}").get_data(as_text=True)
        assert f"/exports/{export_id}.zip" in listed
        archive = client.get(f"/exports/{export_id}.zip")
        assert archive.status_code == 200
        assert "manifest.json" in zipfile.ZipFile(io.BytesIO(archive.data)).namelist()
    with api_world.app.test_client() as client:
        sign_in(client, api_world.emails["coordinator"])
        assert client.get("/exports").status_code == 403


def test_upload_page_dry_run_then_commit(api_world: ApiWorld) -> None:
    number = api_world.cohort.child.study_number
    content = ("study_number;virus;specimen;sampled_on;result;unit;assay\n"
               f"{number};CMV;plasma;20/03/2026;<62;copies/mL;Abbott RealTime CMV (test)\n"
               f"{number};CMV;plasma;27/03/2026;1,2E+03;copies/mL;Abbott RealTime CMV (test)\n"
               ).encode("latin-1")
    factory = make_session_factory(api_world.engine)
    with factory() as session:
        before = session.scalar(select(func.count(ViralLoadResult.id)))
    with api_world.app.test_client() as client:
        sign_in(client, api_world.emails["coordinator"])
        token = csrf_token(client, "/labs/import")
        checked = client.post("/labs/import", data={"csrf_token": token, "mapping": "",
                                                    "file": (io.BytesIO(content), "labo.csv")},
                              content_type="multipart/form-data")
        text = checked.get_data(as_text=True)
        assert checked.status_code == 200 and 'name="confirm"' in text
        with factory() as session:
            assert session.scalar(select(func.count(ViralLoadResult.id))) == before
        sha = text.split('name="confirm" value="', 1)[1][:64]
        done = client.post("/labs/import", data={"csrf_token": csrf_token(client, "/labs/import"),
                                                 "confirm": sha, "file_name": "labo.csv", "mapping": ""})
        assert done.status_code == 200
    with factory() as session:
        assert session.scalar(select(func.count(ViralLoadResult.id))) == before + 2
        batch = session.scalar(select(LabImportBatch).where(LabImportBatch.file_sha256 == sha))
        assert batch is not None and batch.rows_new == 2


def test_navigation_links_follow_the_roles(api_world: ApiWorld) -> None:
    """The bar links the Exports page for exporters and the upload page for importers."""
    seen: dict[str, str] = {}
    for role in ("statistician", "coordinator"):
        with api_world.app.test_client() as client:
            sign_in(client, api_world.emails[role])
            page = client.get("/")
            assert page.status_code == 200
            text = page.get_data(as_text=True)
            seen[role] = text.split('<nav class="mainnav">', 1)[1].split("</nav>", 1)[0]
    assert 'href="/exports"' in seen["statistician"] and 'href="/labs/import"' not in seen["statistician"]
    assert 'href="/labs/import"' in seen["coordinator"] and 'href="/exports"' not in seen["coordinator"]
