"""The participant casebook: every form with its values, audit history,
queries and signature manifestations, and the CMV/TTV load chart with the
antiviral courses."""

from __future__ import annotations

import enum
from collections import defaultdict
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, PageBreak, Paragraph, Spacer
from sqlalchemy import select
from sqlalchemy.orm import Session

from trialdb.crf.definitions import FieldSpec, FormSpec, code_label, load_forms
from trialdb.errors import NotFound
from trialdb.models import (
    AntiviralCourse,
    Assay,
    AuditEvent,
    CarTInfusion,
    DataQuery,
    Participant,
    ResistanceGenotype,
    Signature,
    ViralLoadResult,
)
from trialdb.reporting import charts, labels
from trialdb.reporting.context import ReportContext, utc_text
from trialdb.reporting.document import DocumentInfo, build_pdf
from trialdb.reporting.styles import FRAME_WIDTH, SERIES, VIRUS_COLOURS, styles
from trialdb.reporting.tables import data_table, key_value_table, p
from trialdb.study.timeline import study_day
from trialdb.study.viral_load import log10_load
from trialdb.vocab import (
    Antiviral,
    CmvGene,
    GenotypeOutcome,
    ParticipantStatus,
    QueryStatus,
    ResultState,
    Sex,
    SignatureMeaning,
    StudyPart,
    Susceptibility,
    Virus,
)

CASEBOOK_ENTITY = "participant"  # signatures and reviews of the whole casebook


def _value(ctx: ReportContext, spec: FieldSpec, value: Any, assays: dict[int, str]) -> str:
    own = spec.choice_label(value)  # a yes/no field's own answer labels, null included
    if own is not None:
        return own.get(ctx.language)
    if value is None:
        return "—"
    if spec.kind == "assay":
        return assays.get(int(value), str(value))
    if isinstance(value, enum.Enum):
        value = value.value
    if spec.enum is not None:
        return code_label(spec.enum, str(value), ctx.language)
    if isinstance(value, bool):
        return ctx.t("Yes", "Oui") if value else ctx.t("No", "Non")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    return f"{text} {spec.unit}" if spec.unit else text


def _signature_rows(ctx: ReportContext, signatures: list[Signature]) -> list[list[str]]:
    rows = []
    for s in signatures:
        meaning = code_label(SignatureMeaning, str(s.meaning), ctx.language)
        state = (ctx.t(f"void since {utc_text(s.invalidated_at)}",
                       f"invalide depuis {utc_text(s.invalidated_at)}")
                 if s.invalidated_at else ctx.t("valid", "valide"))
        rows.append([s.signer_name, utc_text(s.signed_at), meaning, state])
    return rows


def _changes_text(changes: dict[str, list[object]] | None) -> str:
    if not changes:
        return ""
    parts = []
    for name, pair in sorted(changes.items()):
        old, new = ([*pair, None, None])[:2] if isinstance(pair, list) else (None, pair)
        parts.append(f"{name}: {old if old is not None else '∅'} → {new if new is not None else '∅'}")
    return "; ".join(parts)


def _load_chart(ctx: ReportContext, participant: Participant, d0: date) -> list[Flowable]:
    session = ctx.session
    results = session.execute(
        select(ViralLoadResult.virus, ViralLoadResult.sampled_on, ViralLoadResult.state,
               ViralLoadResult.value)
        .where(ViralLoadResult.participant_id == participant.id,
               ViralLoadResult.is_deleted.is_(False),
               ViralLoadResult.virus.in_([Virus.CMV.value, Virus.TTV.value]))
        .order_by(ViralLoadResult.sampled_on, ViralLoadResult.id)).all()
    series: dict[str, list[charts.LoadPoint]] = defaultdict(list)
    for virus, sampled_on, state, value in results:
        log10 = (float(log10_load(value)) if ResultState(state) is ResultState.QUANTIFIED
                 and value is not None else None)
        series[str(virus)].append(charts.LoadPoint(
            study_day(d0, sampled_on), log10,
            ResultState(state) is not ResultState.NOT_DETECTED))
    courses = session.execute(
        select(AntiviralCourse.drug, AntiviralCourse.indication, AntiviralCourse.started_on,
               AntiviralCourse.ended_on)
        .where(AntiviralCourse.participant_id == participant.id,
               AntiviralCourse.is_deleted.is_(False))
        .order_by(AntiviralCourse.started_on, AntiviralCourse.id)).all()
    drug_colour = {drug.value: SERIES[i % len(SERIES)] for i, drug in enumerate(Antiviral)}
    bars = [charts.CourseBar(code_label(Antiviral, str(drug), ctx.language),
                             study_day(d0, start), None if end is None else study_day(d0, end),
                             drug_colour.get(str(drug), SERIES[0]))
            for drug, _indication, start, end in courses]
    if not series and not bars:
        return []
    drawing = charts.participant_load_chart(
        [(virus, VIRUS_COLOURS.get(virus, SERIES[0]), series[virus]) for virus in sorted(series)],
        bars, x_label=ctx.t("Days after CAR-T infusion", "Jours après la perfusion"),
        y_label=ctx.t("log10 load (unit of the assay)", "log10 charge (unité de la technique)"),
        below_label=ctx.t("Open circles: not detected (at 0) or detected below LLOQ (at 1)",
                          "Cercles vides : non détecté (à 0) ou détecté < LIQ (à 1)"),
        ongoing_label=ctx.t("ongoing", "en cours"))
    return [p(ctx.t("CMV and TTV loads and antiviral courses",
                    "Charges CMV et TTV et traitements antiviraux"), "h2"), drawing,
            p(ctx.t("log10 of quantified loads in the unit reported (CMV IU/mL or copies/mL, TTV "
                    "copies/mL); bars: antiviral courses.",
                    "log10 des charges quantifiées dans l'unité rendue (CMV UI/mL ou copies/mL, TTV "
                    "copies/mL) ; barres : traitements antiviraux."), "caption")]


def _label(text: str) -> Paragraph:
    """A small heading over a record's sub-table (genes, signatures, audit trail)."""
    style = styles().cell_head.clone("record_part", spaceBefore=6, spaceAfter=2)
    return Paragraph(escape(text), style)


def _genotype_tables(ctx: ReportContext, genotype: ResistanceGenotype) -> list[Flowable]:
    """Genes sequenced, mutations found (gene and amino-acid change) and the
    laboratory's susceptibility per drug."""
    def name(enum_class: type[enum.Enum], code: Any) -> str:
        return code_label(enum_class, str(getattr(code, "value", code)), ctx.language)

    half = FRAME_WIDTH * 0.45
    genes = [[name(CmvGene, g.gene), name(GenotypeOutcome, g.outcome)] for g in genotype.genes]
    mutations = [[name(CmvGene, m.gene), m.amino_acid_change] for m in genotype.mutations]
    drugs = [[name(Antiviral, d.drug), name(Susceptibility, d.susceptibility)]
             for d in genotype.susceptibilities]
    none = ctx.t("none recorded", "aucun(e) saisi(e)")
    story: list[Flowable] = []
    for title, header, rows in (
            (ctx.t("Genes", "Gènes"),
             [ctx.t("Gene sequenced", "Gène séquencé"), ctx.t("Outcome", "Résultat")], genes),
            (ctx.t("Mutations found", "Mutations trouvées"),
             [ctx.t("Gene", "Gène"), ctx.t("Mutation (amino-acid change)",
                                           "Mutation (changement d'acide aminé)")], mutations),
            (ctx.t("Susceptibility by drug", "Sensibilité par molécule"),
             [ctx.t("Drug", "Molécule"), ctx.t("Susceptibility", "Sensibilité")], drugs)):
        story += [_label(title),
                  data_table(header, rows or [[none, ""]], widths=[half, FRAME_WIDTH - half],
                             numeric_from=9, font_size=7.4)]
    return story


def _form_section(ctx: ReportContext, form: FormSpec, participant: Participant,
                  audit: dict[tuple[str, int], list[AuditEvent]],
                  queries: dict[tuple[str, int], list[DataQuery]],
                  signatures: dict[tuple[str, int], list[Signature]],
                  assays: dict[int, str]) -> list[Flowable]:
    model = form.model
    table_name = model.__tablename__
    records = ctx.session.scalars(
        select(model).where(model.participant_id == participant.id)
        .order_by(model.id)).all()
    title = p(form.title.get(ctx.language), "h1")
    story: list[Flowable] = [CondPageBreak(40 * mm)]
    if not records:
        return [*story, title, p(ctx.t("No record.", "Aucune fiche."), "caption")]
    for index, record in enumerate(records, start=1):
        flags = []
        if record.is_deleted:
            flags.append(ctx.t(f"deleted: {record.deletion_reason}",
                               f"supprimée : {record.deletion_reason}"))
        flags.append(ctx.t("complete", "complète") if record.is_complete
                     else ctx.t("in progress", "en cours"))
        # one record, kept on one page when it fits (the first with the form's title)
        block: list[Flowable] = [title] if index == 1 else []
        if form.repeating:
            block.append(p(f"{form.title.get(ctx.language)} #{index} ({', '.join(flags)})", "h2"))
        else:
            block.append(p(", ".join(flags), "caption"))
        rows = []
        for spec in form.fields:
            rows.append([spec.label.get(ctx.language), _value(ctx, spec, getattr(record, spec.name),
                                                              assays)])
        block.append(data_table([ctx.t("Field", "Champ"), ctx.t("Value", "Valeur")], rows,
                                widths=[FRAME_WIDTH * 0.45, FRAME_WIDTH * 0.55], numeric_from=2))
        if isinstance(record, ResistanceGenotype):
            block += _genotype_tables(ctx, record)
        key = (table_name, record.id)
        for query in queries.get(key, []):
            status = code_label(QueryStatus, str(query.status), ctx.language)
            messages = "; ".join(
                f"{m.author_name} ({utc_text(m.written_at)}, "
                f"{labels.label(labels.QUERY_MESSAGE_KINDS, m.kind, ctx.language)}): {m.text}"
                for m in query.messages)
            block.append(p(ctx.t(f"Query #{query.id} on {query.field} [{status}] — {messages}",
                                 f"Requête n° {query.id} sur {query.field} [{status}] — "
                                 f"{messages}"), "small"))
        if signatures.get(key):
            block += [_label(ctx.t("Signatures", "Signatures")), data_table(
                [ctx.t("Signed by", "Signé par"), ctx.t("Date-time", "Date et heure"),
                 ctx.t("Meaning", "Signification"), ctx.t("State", "État")],
                _signature_rows(ctx, signatures[key]), numeric_from=9, font_size=7)]
        history = audit.get(key, [])
        if history:
            block += [_label(ctx.t("Audit trail", "Piste d'audit")), data_table(
                [ctx.t("When", "Quand"), ctx.t("Who", "Qui"), ctx.t("Action", "Action"),
                 ctx.t("Changes and reason", "Modifications et motif")],
                [[utc_text(e.occurred_at), e.user_name,
                  labels.label(labels.AUDIT_ACTIONS, e.action, ctx.language),
                  _changes_text(e.changes) + (f" — {e.reason}" if e.reason else "")]
                 for e in history],
                widths=[28 * mm, 32 * mm, 18 * mm, FRAME_WIDTH - 78 * mm], numeric_from=9,
                font_size=6.6)]
        block.append(Spacer(1, 6))
        story.append(KeepTogether(block))
    return story


def render_casebook(ctx: ReportContext, study_number: str) -> bytes:
    """The casebook of one participant as PDF bytes."""
    session: Session = ctx.session
    participant = session.scalar(select(Participant).where(
        Participant.study_number == study_number))
    if participant is None or (ctx.scope.site_ids is not None
                               and participant.site_id not in ctx.scope.site_ids):
        raise NotFound(f"There is no participant {study_number} you may see.",
                       f"Aucun participant {study_number} accessible.")
    forms = list(load_forms().values())
    audit: dict[tuple[str, int], list[AuditEvent]] = defaultdict(list)
    for event in session.scalars(select(AuditEvent).where(
            AuditEvent.study_number == study_number).order_by(AuditEvent.id)):
        if event.entity and event.entity_id is not None:
            audit[(event.entity, event.entity_id)].append(event)
    queries: dict[tuple[str, int], list[DataQuery]] = defaultdict(list)
    for query in session.scalars(select(DataQuery).where(
            DataQuery.participant_id == participant.id).order_by(DataQuery.id)):
        queries[(query.entity, query.record_id)].append(query)
    signatures: dict[tuple[str, int], list[Signature]] = defaultdict(list)
    for signature in session.scalars(select(Signature).where(
            Signature.participant_id == participant.id).order_by(Signature.id)):
        signatures[(signature.entity, signature.record_id)].append(signature)
    assays = {i: n for i, n in session.execute(select(Assay.id, Assay.name))}
    d0 = session.scalar(select(CarTInfusion.infused_on).where(
        CarTInfusion.participant_id == participant.id, CarTInfusion.is_deleted.is_(False)))
    prov = ctx.provenance
    story: list[Flowable] = [
        p(ctx.t("Participant casebook", "Cahier d'observation du participant"), "title"),
        p(f"{study_number} · NCT06058858", "subtitle"),
        key_value_table([
            (ctx.t("Site", "Centre"), participant.site.code),
            (ctx.t("Part", "Partie"), code_label(StudyPart, participant.part.value, ctx.language)),
            (ctx.t("Status", "Statut"), code_label(ParticipantStatus, participant.status.value,
                                                  ctx.language)),
            (ctx.t("Sex", "Sexe"), code_label(Sex, participant.sex.value, ctx.language)),
            (ctx.t("Birth (year)", "Naissance (année)"), str(participant.birth_year)),
            (ctx.t("Screened on", "Pré-inclus le"), participant.screened_on.isoformat()),
            (ctx.t("Included on", "Inclus le"),
             participant.included_on.isoformat() if participant.included_on else "—"),
            (ctx.t("Infusion (D0)", "Perfusion (J0)"), d0.isoformat() if d0 else "—"),
            (ctx.t("Data as of", "Données au"), utc_text(prov.cut_off)),
            (ctx.t("Generated by", "Généré par"), prov.generated_by),
        ], label_width=48 * mm),
    ]
    casebook_signatures = signatures.get((CASEBOOK_ENTITY, participant.id), [])
    story.append(p(ctx.t("Casebook signatures", "Signatures du cahier"), "h2"))
    if casebook_signatures:
        story.append(data_table(
            [ctx.t("Signed by", "Signé par"), ctx.t("Date-time", "Date et heure"),
             ctx.t("Meaning", "Signification"), ctx.t("State", "État")],
            _signature_rows(ctx, casebook_signatures), numeric_from=9))
    else:
        story.append(p(ctx.t("Not signed.", "Non signé."), "caption"))
    if d0 is not None:
        story += _load_chart(ctx, participant, d0)
    story.append(PageBreak())
    for form in forms:
        if hasattr(form.model, "participant_id"):
            story += _form_section(ctx, form, participant, audit, queries, signatures, assays)
    info = DocumentInfo(
        title=f"NCT06058858 — {ctx.t('Casebook', 'Cahier')} {study_number}",
        subject=ctx.t("Participant casebook", "Cahier d'observation"),
        author=prov.generated_by, created_at=prov.generated_at,
        header_left=f"NCT06058858 · {ctx.t('Casebook', 'Cahier')} {study_number}",
        header_right=f"{ctx.t('Data as of', 'Données au')} {utc_text(prov.cut_off)}",
        footer_left=ctx.t("Confidential — pseudonymised data",
                          "Confidentiel — données pseudonymisées"),
        language=ctx.language)
    return build_pdf(story, info)


def last_change(session: Session, study_number: str) -> datetime | None:
    """When the participant's data last changed (the casebook's natural date)."""
    return session.scalar(select(AuditEvent.occurred_at).where(
        AuditEvent.study_number == study_number).order_by(AuditEvent.id.desc()).limit(1))
