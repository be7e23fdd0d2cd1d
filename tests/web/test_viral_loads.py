"""The viral-load grid: lab print-outs understood, previewed, saved all or nothing."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests.web.conftest import World, csrf_token, new_participant, post
from tests.web.test_crf import INFUSION
from trialdb.db import make_session_factory
from trialdb.models import Participant, ViralLoadResult
from trialdb.vocab import ResultState


@pytest.fixture()
def participant(engine: Engine, world: World, client_a: FlaskClient) -> Participant:
    participant = new_participant(engine, world.site_a, birth=(1970, 1))
    post(client_a, f"/participants/{participant.study_number}/forms/infusion", INFUSION)
    return participant


def _rows(world: World, *rows: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"sampled_on": day, "virus": "CMV", "specimen": "plasma",
             "assay_id": str(world.cmv_assay.id), "result": result, "unit": unit}
            for day, result, unit in rows]


def _preview(client: FlaskClient, participant: Participant, rows: list[dict[str, str]]) -> list:
    token = csrf_token(client, f"/participants/{participant.study_number}/viral-loads")
    response = client.post(f"/api/participants/{participant.study_number}/viral-loads/preview",
                           json={"rows": rows}, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    return response.get_json()["rows"]


def test_preview_reads_lab_print_outs(client_a: FlaskClient, world: World,
                                      participant: Participant) -> None:
    rows = _preview(client_a, participant, _rows(
        world, ("2024-03-10", "<62", ""), ("2024-03-17", "ND", ""),
        ("10/04/2024", "1,2E+04", "IU/mL"), ("2024-03-24", "5951", "copies/mL"),
        ("2024-03-31", "5951", "")))
    assert [r["state"] for r in rows] == ["below_lloq", "not_detected", "quantified",
                                          "quantified", "quantified"]
    assert rows[2]["value"] == "12000" and rows[2]["log10"] == "4.08" and rows[2]["day"] == 31
    assert rows[3]["log10"] == "3.77" and rows[0]["day"] == 0
    assert rows[0]["unit"] == "IU/mL"  # below LLOQ takes the assay's unit
    assert rows[4]["ok"] is False and "unit" in rows[4]["errors"]
    assert "unité" in rows[4]["errors"]["unit"]


def test_save_is_all_or_nothing(client_a: FlaskClient, world: World, engine: Engine,
                                participant: Participant) -> None:
    sn = participant.study_number
    rows = _rows(world, ("2024-03-10", "<62", ""), ("2024-03-17", "ND", ""),
                 ("2024-03-24", "5951", "copies/mL"), ("2031-01-01", "120", "IU/mL"),
                 ("2024-03-31", "840", ""))
    data: dict[str, object] = {"row_count": str(len(rows)), "action": "save"}
    for i, row in enumerate(rows):
        data.update({f"rows-{i}-{k}": v for k, v in row.items()})
    response = post(client_a, f"/participants/{sn}/viral-loads", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Cette date est dans le futur." in page
    assert "Une charge quantifiée doit avoir son unité" in page
    assert "rien n&#39;a été enregistré" in page

    def stored() -> list[ViralLoadResult]:
        with make_session_factory(engine, write=False)() as session:
            return list(session.scalars(select(ViralLoadResult).where(
                ViralLoadResult.participant_id == participant.id).order_by(
                ViralLoadResult.sampled_on)))

    assert stored() == []
    data.update({"rows-3-sampled_on": "2024-03-28", "rows-4-unit": "IU/mL"})
    response = post(client_a, f"/participants/{sn}/viral-loads", data)
    assert response.status_code == 302
    results = stored()
    assert [r.state for r in results] == [ResultState.BELOW_LLOQ, ResultState.NOT_DETECTED,
                                          ResultState.QUANTIFIED, ResultState.QUANTIFIED,
                                          ResultState.QUANTIFIED]
    assert results[0].value is None and results[0].reported_as == "<62"
    assert results[2].value == 5951 and results[2].unit.value == "copies/mL"
    assert results[3].sampled_on == date(2024, 3, 28)
    page = client_a.get(f"/participants/{sn}").get_data(as_text=True)
    assert "<svg" in page and 'class="series-cmv' in page


def test_assay_of_another_virus_is_refused(client_a: FlaskClient, world: World,
                                          participant: Participant) -> None:
    rows = _rows(world, ("2024-03-10", "5000", "copies/mL"))
    rows[0]["assay_id"] = str(world.ttv_assay.id)
    (row,) = _preview(client_a, participant, rows)
    assert row["ok"] is False and "assay_id" in row["errors"]


def test_bad_json_is_a_400(client_a: FlaskClient, participant: Participant) -> None:
    token = csrf_token(client_a, f"/participants/{participant.study_number}/viral-loads")
    url = f"/api/participants/{participant.study_number}/viral-loads/preview"
    for body in ({"rows": "x"}, {"rows": [1, 2]}, [], {"nope": 1}):
        response = client_a.post(url, json=body, headers={"X-CSRFToken": token})
        assert 400 <= response.status_code < 500
        assert "error" in response.get_json()


def test_dashboard_counts_and_due_points(client_a: FlaskClient, world: World, engine: Engine,
                                         participant: Participant) -> None:
    page = client_a.get(f"/?site={world.site_a.code}").get_data(as_text=True)
    assert participant.study_number in page
    assert 'class="cell cell-complete"' in page or 'class="cell cell-in_progress"' in page
    with make_session_factory(engine, write=False)() as session:
        from trialdb.services.dashboard import due_time_points, site_dashboard

        board = site_dashboard(session, world.site_a.id, date(2024, 3, 20))
        row = next(r for r in board.rows if r.study_number == participant.study_number)
        assert row.statuses["infusion"] == "in_progress"
        assert row.statuses["viral_loads"] == "empty"
        assert session.scalar(select(func.count()).select_from(ViralLoadResult)) is not None
        # not included yet: no time points tracked
        assert not [d for d in due_time_points(session, world.site_a.id, date(2024, 3, 20))
                    if d.study_number == participant.study_number]


def test_due_and_overdue_time_points(engine: Engine, world: World, client_a: FlaskClient,
                                     participant: Participant) -> None:
    from trialdb.db import unit_of_work
    from trialdb.services.dashboard import due_time_points

    sn = participant.study_number
    data: dict[str, object] = {"row_count": "1", "action": "save"}
    data.update({f"rows-0-{k}": v for k, v in _rows(world, ("2024-03-18", "ND", ""))[0].items()})
    assert post(client_a, f"/participants/{sn}/viral-loads", data).status_code == 302
    with unit_of_work(make_session_factory(engine)) as session:
        fresh = session.get(Participant, participant.id)
        assert fresh is not None
        fresh.status = fresh.status.INCLUDED
    with make_session_factory(engine, write=False)() as session:
        # D0 = 2024-03-10; on 2024-03-24: D0 overdue, D7 sampled on day 8, D14 due
        due = [d for d in due_time_points(session, world.site_a.id, date(2024, 3, 24))
               if d.study_number == sn]
    assert [(d.time_point, d.overdue) for d in due] == [("D0", True), ("D14", False)]
    assert due[1].window_start == date(2024, 3, 21) and due[1].window_end == date(2024, 3, 27)
