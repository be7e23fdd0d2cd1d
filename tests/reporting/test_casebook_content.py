"""The casebook's content on a participant built for the purpose (both databases):
resistance genotypes in full, codes labelled in both languages, free text
printed literally (never read as ReportLab markup), and the audit entry that
each generation leaves."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from trialdb.models import (
    AuditEvent,
    DataSnapshot,
    DrugSusceptibility,
    GenotypeGene,
    GenotypeMutation,
    ResistanceGenotype,
)
from trialdb.reporting import service
from trialdb.services import review
from trialdb.services.actor import Actor
from trialdb.vocab import (
    Antiviral,
    CmvGene,
    GenotypeOutcome,
    Specimen,
    Susceptibility,
)

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                reason="poppler-utils (pdftotext) missing")

NASTY = ("<script>alert(1)</script>", "<b>not bold</b>", "&amp;", "a < b & c > d", "<br/>",
         "<para>", "&#60;")
WHEN = datetime(2026, 10, 15, tzinfo=UTC)


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "casebook.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                         text=True)
    return " ".join(out.stdout.split())


def _participant_with_genotype(db: Session) -> tuple[str, int]:
    site = factories.site(db)
    participant = factories.participant(db, site)
    genotype = ResistanceGenotype(
        participant_id=participant.id, sampled_on=date(2024, 5, 2), specimen=Specimen.PLASMA,
        comment_text=" ".join(NASTY), is_complete=True)
    genotype.genes = [GenotypeGene(gene=CmvGene.UL97, outcome=GenotypeOutcome.SEQUENCED),
                      GenotypeGene(gene=CmvGene.UL54, outcome=GenotypeOutcome.SEQUENCED),
                      GenotypeGene(gene=CmvGene.UL56,
                                   outcome=GenotypeOutcome.AMPLIFICATION_FAILED)]
    genotype.mutations = [GenotypeMutation(gene=CmvGene.UL97, amino_acid_change="A594V"),
                          GenotypeMutation(gene=CmvGene.UL54, amino_acid_change="G841A")]
    genotype.susceptibilities = [
        DrugSusceptibility(drug=Antiviral.GANCICLOVIR, susceptibility=Susceptibility.RESISTANT),
        DrugSusceptibility(drug=Antiviral.FOSCARNET,
                           susceptibility=Susceptibility.LOW_LEVEL_RESISTANT),
        DrugSusceptibility(drug=Antiviral.MARIBAVIR, susceptibility=Susceptibility.SUSCEPTIBLE),
    ]
    db.add(genotype)
    db.flush()
    review.raise_query(db, Actor.system("Data manager"), genotype, "comment_text",
                       "Please check: " + " ".join(NASTY), automatic=True)
    return participant.study_number, participant.id


def test_casebook_lists_the_resistance_genotype(db: Session, tmp_path: Path) -> None:
    number, _ = _participant_with_genotype(db)
    text = _text(service.casebook(db, Actor.system("Dr Test"), number, generated_at=WHEN),
                 tmp_path)
    for expected in ("Gene sequenced", "UL97", "UL54", "UL56", "Amplification failed",
                     "Mutation (amino-acid change)", "A594V", "G841A",
                     "Susceptibility", "Ganciclovir Resistant", "Foscarnet Low-level resistance",
                     "Maribavir Susceptible"):
        assert expected in text, expected
    # codes are labelled, in the language asked for
    assert "[Open]" in text and "raised" in text
    french = _text(service.casebook(db, Actor.system("Dr Test"), number, generated_at=WHEN,
                                    language="fr"), tmp_path)
    for expected in ("Gène séquencé", "Échec d'amplification", "Ganciclovir Résistant",
                     "Résistance de bas niveau", "[Ouverte]", "émise", "requête"):
        assert expected in french, expected


def test_free_text_is_printed_literally(db: Session, tmp_path: Path) -> None:
    number, _ = _participant_with_genotype(db)
    text = _text(service.casebook(db, Actor.system("Dr Test"), number, generated_at=WHEN),
                 tmp_path)
    for nasty in NASTY:
        # the comment field, the query message and the audit reason each print it
        assert text.count(nasty) >= 2, (nasty, text.count(nasty))
    assert "not bold" not in text.replace("<b>not bold</b>", "")


def test_each_generation_is_audited(db: Session) -> None:
    number, _ = _participant_with_genotype(db)
    # other tests commit report downloads to the same database: look only at ours
    before = db.scalar(select(func.max(AuditEvent.id))) or 0
    actor = Actor.system("Dr Audit")
    pdf = service.casebook(db, actor, number, generated_at=WHEN)
    event = service.record_export(db, actor, "casebook", pdf, study_number=number)
    assert (event.action, event.entity, event.study_number) == ("export", "report", number)
    assert event.changes is not None and event.changes["document"] == [None, "casebook"]
    assert event.changes["snapshot_id"] == [None, None] and "live data" in (event.reason or "")
    # a snapshot's id and content hash are written
    snapshot = DataSnapshot(created_at=WHEN, created_by="t", label="t", content_hash="ab" * 32,
                            participant_count=1, schema_revision="x", payload=b"")
    db.add(snapshot)
    db.flush()
    event = service.record_export(db, actor, "interim", b"%PDF", snapshot_id=snapshot.id)
    assert event.entity_id == snapshot.id and event.changes is not None
    assert event.changes["content_hash"] == [None, "ab" * 32]
    assert event.changes["snapshot_id"] == [None, snapshot.id]
    assert "ab" * 32 in (event.reason or "")
    stored = db.scalars(select(AuditEvent).where(AuditEvent.entity == "report",
                                                 AuditEvent.id > before)
                        .order_by(AuditEvent.id)).all()
    assert [e.changes["document"][1] for e in stored if e.changes] == ["casebook", "interim"]
