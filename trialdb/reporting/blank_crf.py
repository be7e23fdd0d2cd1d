"""The annotated blank CRF: every form of forms/ with, for each field, its
label, the database name, type, whether it is required, its code list,
unit, limits and conditions — for sites and the ethics committee."""

from __future__ import annotations

from datetime import datetime

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, PageBreak, Paragraph

from trialdb.crf.definitions import STORED_NAMES, FieldSpec, FormSpec, code_label, load_forms
from trialdb.reporting.context import Language, utc_text
from trialdb.reporting.document import DocumentInfo, build_pdf, table_of_contents
from trialdb.reporting.styles import FRAME_WIDTH, styles
from trialdb.reporting.tables import Cell, data_table, p
from trialdb.reporting.versions import trialdb_version

_KINDS = {
    "date": ("date (YYYY-MM-DD)", "date (JJ/MM/AAAA)"),
    "bool": ("yes / no", "oui / non"),
    "yesno": ("yes / no", "oui / non"),
    "tristate": ("yes / no / not known", "oui / non / inconnu"),
    "int": ("integer", "entier"),
    "float": ("number", "nombre"),
    "text": ("text", "texte"),
    "textarea": ("free text", "texte libre"),
    "enum": ("code list", "liste de codes"),
    "assay": ("assay (laboratory list)", "technique (liste du laboratoire)"),
}


def _limits(ctx: Language, spec: FieldSpec) -> str:
    parts = []
    if spec.max_length and spec.kind == "text":
        parts.append(ctx.t(f"≤ {spec.max_length} characters", f"≤ {spec.max_length} caractères"))
    if spec.minimum is not None:
        parts.append(f"{'≥' if spec.minimum.inclusive else '>'} {spec.minimum.value:g}")
    if spec.maximum is not None:
        parts.append(f"{'≤' if spec.maximum.inclusive else '<'} {spec.maximum.value:g}")
    if spec.soft_minimum is not None or spec.soft_maximum is not None:
        low = "" if spec.soft_minimum is None else f"{spec.soft_minimum:g}"
        high = "" if spec.soft_maximum is None else f"{spec.soft_maximum:g}"
        parts.append(ctx.t(f"warn outside {low}–{high}", f"alerte hors {low}–{high}"))
    for anchor in spec.not_before:
        parts.append(ctx.t(f"not before {anchor}", f"pas avant {anchor}"))
    for anchor in spec.not_after:
        parts.append(ctx.t(f"not after {anchor}", f"pas après {anchor}"))
    if spec.show_if is not None:
        parts.append(ctx.t(f"shown if {spec.show_if.field} = {spec.show_if.when}",
                           f"affiché si {spec.show_if.field} = {spec.show_if.when}"))
    return "; ".join(parts)


def _codes(ctx: Language, spec: FieldSpec) -> str:
    if spec.choices:  # a yes/no field's own answer labels, by stored value
        return "\n".join(f"{STORED_NAMES[value]} = {label.get(ctx.language)}"
                         for value, label in spec.choices)
    if spec.enum is None:
        return ""
    return "\n".join(f"{code} = {code_label(spec.enum, code, ctx.language)}" for code in spec.codes)


def _form(ctx: Language, form: FormSpec) -> list[Flowable]:
    story: list[Flowable] = [
        CondPageBreak(60 * mm),
        p(f"{form.title.get(ctx.language)} ({form.name})", "h1"),
        p(ctx.t(f"Table {form.model.__tablename__}; "
                + ("repeating form (several records per participant)." if form.repeating
                   else "one record per participant."),
                f"Table {form.model.__tablename__} ; "
                + ("fiche répétable (plusieurs par participant)." if form.repeating
                   else "une fiche par participant.")), "caption"),
    ]
    variable_style = styles().cell_mono.clone("variable", fontSize=6.1, leading=8)
    for section in form.sections:
        rows: list[list[Cell]] = []
        for spec in section.fields:
            label = spec.label.get(ctx.language) + (" *" if spec.required else "")
            if spec.help is not None:
                label += "\n" + spec.help.get(ctx.language)
            kind = _KINDS.get(spec.kind, (spec.kind, spec.kind))
            type_text = ctx.t(*kind) + (f" ({spec.unit})" if spec.unit else "")
            rows.append([label, Paragraph(spec.name, variable_style), type_text,
                         _codes(ctx, spec), _limits(ctx, spec), "☐ ______"])
        story += [
            CondPageBreak(30 * mm),  # a section's title never alone at a page's foot
            p(section.title.get(ctx.language), "h2"),
            data_table([ctx.t("Question", "Question"), ctx.t("Variable", "Variable"),
                        ctx.t("Type, unit", "Type, unité"), ctx.t("Codes", "Codes"),
                        ctx.t("Limits, conditions", "Limites, conditions"),
                        ctx.t("Answer", "Réponse")],
                       rows,
                       widths=[34 * mm, 44 * mm, 22 * mm, 34 * mm, 22 * mm,
                               FRAME_WIDTH - 156 * mm], numeric_from=9, font_size=6.8),
        ]
    return story


def render_blank_crf(ctx: Language, generated_by: str, generated_at: datetime) -> bytes:
    """The annotated blank CRF as PDF bytes (depends only on forms/ and the models)."""
    forms = list(load_forms().values())
    story: list[Flowable] = [
        p(ctx.t("Annotated blank case report form", "Cahier d'observation vierge annoté"),
          "title"),
        p("NCT06058858 · " + ctx.t(f"trialdb {trialdb_version()}, {len(forms)} forms",
                                   f"trialdb {trialdb_version()}, {len(forms)} fiches"),
          "subtitle"),
        p(ctx.t("Each question shows its variable name in the database, its type and unit, its "
                "code list (code = label), hard limits (refused), soft limits (a warning asks for "
                "confirmation) and display conditions. * required. Derived values (log10 loads, "
                "age, study day, endpoints) are computed, never entered. No name, initials, full "
                "date of birth or hospital number is collected.",
                "Chaque question indique son nom de variable en base, son type et son unité, sa "
                "liste de codes (code = libellé), ses limites strictes (refus), ses limites "
                "souples (alerte avec confirmation) et ses conditions d'affichage. * obligatoire. "
                "Les valeurs dérivées (log10 des charges, âge, jour d'étude, critères) sont "
                "calculées, jamais saisies. Aucun nom, initiales, date de naissance complète ni "
                "numéro hospitalier n'est recueilli.")),
        table_of_contents(compact=True),
        PageBreak(),
    ]
    for form in forms:
        story += _form(ctx, form)
    info = DocumentInfo(
        title=ctx.t("NCT06058858 — annotated blank CRF", "NCT06058858 — CRF vierge annoté"),
        subject=ctx.t("Annotated blank case report form", "Cahier d'observation vierge annoté"),
        author=generated_by, created_at=generated_at,
        header_left=ctx.t("NCT06058858 · Annotated blank CRF", "NCT06058858 · CRF vierge annoté"),
        header_right=f"trialdb {trialdb_version()} · {utc_text(generated_at)}",
        footer_left=ctx.t("For sites and the ethics committee",
                          "Pour les centres et le comité d'éthique"),
        language=ctx.language)
    return build_pdf(story, info)
