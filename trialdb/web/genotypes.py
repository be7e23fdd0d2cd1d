"""Resistance genotyping: the record, its genes, mutations and susceptibilities."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from trialdb.crf.definitions import FormSpec
from trialdb.errors import InvalidInput
from trialdb.models import Participant, ResistanceGenotype
from trialdb.services import genotypes as service
from trialdb.services.form_entry import FormSave
from trialdb.vocab import Antiviral, CmvGene, GenotypeOutcome, Susceptibility
from trialdb.web.base import actor, db, entry_page, entry_required, participant_or_404
from trialdb.web.i18n import language
from trialdb.web.notice import notify
from trialdb.web.participants import (
    Posted,
    form_spec_or_404,
    handle_crf_post,
    posted_crf,
    record_or_404,
    render_crf,
    saved_crf,
)

bp = Blueprint("genotypes", __name__)


def _details_from_request() -> tuple[service.GenotypeDetails, dict[str, str]]:
    """Genes, mutations and susceptibilities as posted, with the raw text kept."""
    genes: dict[CmvGene, GenotypeOutcome] = {}
    for gene in CmvGene:
        raw = request.form.get(f"gene-{gene.value}", "")
        if raw in GenotypeOutcome.values():
            genes[gene] = GenotypeOutcome(raw)
    susceptibilities: dict[Antiviral, Susceptibility] = {}
    for drug in Antiviral:
        raw = request.form.get(f"drug-{drug.value}", "")
        if raw in Susceptibility.values():
            susceptibilities[drug] = Susceptibility(raw)
    text = request.form.get("mutations", "")[:2000]
    mutations = service.parse_mutations(text)
    return service.GenotypeDetails(genes, mutations, susceptibilities), {"mutations": text}


def _current(record: ResistanceGenotype | None) -> dict[str, Any]:
    if record is None:
        return {"genes": {}, "drugs": {}, "mutations": ""}
    return {
        "genes": {g.gene.value: g.outcome.value for g in record.genes},
        "drugs": {s.drug.value: s.susceptibility.value for s in record.susceptibilities},
        "mutations": ", ".join(f"{m.gene} {m.amino_acid_change}" for m in record.mutations),
    }


def _edit(spec: FormSpec, participant: Participant, record: ResistanceGenotype | None,
          posted: Posted | None) -> Response | tuple[str, int]:
    extra: dict[str, Any] = {
        "genes": list(CmvGene), "drugs": list(Antiviral), "outcomes": list(GenotypeOutcome),
        "susceptibilities": list(Susceptibility), "current": _current(record),
             "mutation_error": None}
    if posted is None:
        return render_crf(spec, participant, saved_crf(spec, record), record,
                          template="genotype_form.html", **extra)
    extra["current"] = {
        "genes": {g.value: request.form.get(f"gene-{g.value}", "") for g in CmvGene},
        "drugs": {d.value: request.form.get(f"drug-{d.value}", "") for d in Antiviral},
        "mutations": request.form.get("mutations", "")[:2000],
    }

    def saver(save: FormSave, _form: FlaskForm) -> Any:
        try:
            details, _raw = _details_from_request()
            return service.save_genotype(db(), actor(), participant, spec, save, details,
                                         record=record)
        except InvalidInput as error:
            if error.field in ("mutations", "genes"):
                extra["mutation_error"] = error.message(language())
            raise

    saved, status = handle_crf_post(spec, posted, saver)
    if saved is None:
        return render_crf(spec, participant, posted.form, record, status,
                          template="genotype_form.html", **extra)
    notify("saved")
    return redirect(url_for("participants.form_page", study_number=participant.study_number,
                            form_name="resistance_genotype"))


@bp.route("/participants/<study_number>/genotypes/new", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
@entry_page
def new(study_number: str) -> Response | tuple[str, int]:
    spec = form_spec_or_404("resistance_genotype")
    posted = posted_crf(spec)  # before the first statement: see posted_crf
    return _edit(spec, participant_or_404(study_number), None, posted)


@bp.route("/participants/<study_number>/genotypes/<int:record_id>", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
@entry_required
def edit(study_number: str, record_id: int) -> Response | tuple[str, int]:
    spec = form_spec_or_404("resistance_genotype")
    posted = posted_crf(spec)
    participant = participant_or_404(study_number)
    return _edit(spec, participant, record_or_404(spec, participant, record_id), posted)
