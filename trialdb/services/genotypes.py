"""Resistance genotyping with its genes, mutations and per-drug interpretation,
saved as one record (one audit entry per change, all in one transaction)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from trialdb.crf.definitions import FormSpec
from trialdb.errors import InvalidInput
from trialdb.models import (
    DrugSusceptibility,
    GenotypeGene,
    GenotypeMutation,
    Participant,
    ResistanceGenotype,
)
from trialdb.services import audit, form_entry
from trialdb.services.actor import Actor
from trialdb.vocab import Antiviral, CmvGene, GenotypeOutcome, Susceptibility

_MUTATION = re.compile(r"^(UL\d{2})\s*[:\s]\s*([A-Z]\d{2,4}(?:[A-Z*]|del|ins\w*|fs)?)$",
                       re.IGNORECASE)


@dataclass(frozen=True)
class GenotypeDetails:
    genes: Mapping[CmvGene, GenotypeOutcome]
    mutations: tuple[tuple[CmvGene, str], ...]
    susceptibilities: Mapping[Antiviral, Susceptibility]


def parse_mutations(text: str) -> tuple[tuple[CmvGene, str], ...]:
    """'UL54 G841A, UL97 A594V' (commas, semicolons or new lines between)."""
    found: list[tuple[CmvGene, str]] = []
    for item in re.split(r"[,;\n]+", text):
        item = item.strip()
        if not item:
            continue
        match = _MUTATION.match(item)
        gene = match.group(1).upper() if match else ""
        if match is None or gene not in CmvGene.values():
            raise InvalidInput(
                f"{item!r} is not a mutation: write the gene and the change, e.g. UL54 G841A.",
                f"{item!r} n'est pas une mutation : écrivez le gène et la substitution, "
                "ex. UL54 G841A.", field="mutations")
        change = match.group(2).upper().replace("DEL", "del").replace("INS", "ins")
        found.append((CmvGene(gene), change))
    if len(set(found)) != len(found):
        raise InvalidInput("A mutation is listed twice.", "Une mutation est citée deux fois.",
                           field="mutations")
    return tuple(found)


def save_genotype(session: Session, actor: Actor, participant: Participant, form: FormSpec,
                  save: form_entry.FormSave, details: GenotypeDetails,
                  record: ResistanceGenotype | None = None,
                  today: date | None = None) -> ResistanceGenotype:
    if not details.genes:
        raise InvalidInput("Tick at least one gene sent for sequencing.",
                           "Cochez au moins un gène séquencé.", field="genes")
    for gene, _change in details.mutations:
        if details.genes.get(gene) is not GenotypeOutcome.SEQUENCED:
            raise InvalidInput(f"A mutation in {gene} needs {gene} sequenced.",
                               f"Une mutation de {gene} suppose {gene} séquencé.",
                               field="mutations")
    saved = form_entry.save_form(session, actor, participant, form, save, record=record,
                                 today=today)
    assert isinstance(saved, ResistanceGenotype)
    before = _describe(saved)
    saved.genes = [GenotypeGene(gene=g, outcome=o) for g, o in details.genes.items()]
    saved.mutations = [GenotypeMutation(gene=g, amino_acid_change=c) for g, c in details.mutations]
    saved.susceptibilities = [DrugSusceptibility(drug=d, susceptibility=s)
                              for d, s in details.susceptibilities.items()]
    session.flush()
    after = _describe(saved)
    if after != before:
        audit.record(session, actor, audit.Entry(
            action="update", entity="resistance_genotype", entity_id=saved.id,
            study_number=participant.study_number, site_code=participant.site.code,
            changes={key: [before[key], after[key]] for key in after if before[key] != after[key]},
            reason=save.reason,
        ))
    return saved


def _describe(genotype: ResistanceGenotype) -> dict[str, list[str]]:
    return {
        "genes": sorted(f"{g.gene}:{g.outcome}" for g in genotype.genes),
        "mutations": sorted(f"{m.gene} {m.amino_acid_change}" for m in genotype.mutations),
        "susceptibilities": sorted(f"{s.drug}:{s.susceptibility}"
                                   for s in genotype.susceptibilities),
    }
