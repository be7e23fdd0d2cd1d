"""CDISC ODM 1.3.2: the study's metadata from forms/, its clinical data,
audit records and signatures, pseudonymised like every other export.

* Metadata: one study event (the whole follow-up) referencing every form of
  ``forms/``; one item group per form; one item per field; one code list
  per vocabulary, labels in English and French.
* Pseudonymisation: a date field becomes an integer item ``<field>_day``
  (days from the participant's D0); free-text fields are not exported;
  subjects are keyed by study number; users by a pseudonymous code. ODM
  requires a timestamp on audit records and signatures: it is written
  anchored on D0, ``2000-01-01`` standing for the participant's D0 (the
  time of day is kept), so that the order and the study day survive while
  the calendar does not. Records of participants without D0 carry no
  audit record or signature.
* Written as a stream (memory does not grow with the number of records).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, cast
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

import pandas as pd
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from trialdb.crf.definitions import FieldSpec, FormSpec, load_codes, load_forms
from trialdb.exports.datasets import exported_participants
from trialdb.models import Assay, AuditEvent, DataSnapshot, Signature
from trialdb.study.timeline import study_day

ODM_NS: Final = "http://www.cdisc.org/ns/odm/v1.3"
STUDY_OID: Final = "ST.NCT06058858"
MDV_OID: Final = "MDV.1"
EVENT_OID: Final = "SE.FOLLOWUP"
D0_ANCHOR: Final = dt.datetime(2000, 1, 1)
FREE_TEXT_KINDS: Final = frozenset({"text", "textarea"})
_DATA_TYPES: Final = {"bool": "boolean", "yesno": "boolean", "tristate": "boolean", "int": "integer",
                      "float": "float", "enum": "text", "assay": "text", "date": "integer"}


def exported_fields(form: FormSpec) -> list[FieldSpec]:
    return [f for f in form.fields if f.kind not in FREE_TEXT_KINDS]


def item_name(spec: FieldSpec) -> str:
    return f"{spec.name}_day" if spec.kind == "date" else spec.name


def item_oid(form: FormSpec, spec: FieldSpec) -> str:
    return f"IT.{form.name}.{item_name(spec)}"


class _Writer:
    def __init__(self, handle: Any) -> None:
        self.xml = XMLGenerator(handle, encoding="utf-8", short_empty_elements=True)

    @contextmanager
    def element(self, name: str, **attributes: Any) -> Iterator[None]:
        self.xml.startElement(name, AttributesImpl({k.replace("__", ":"): str(v)
                                                    for k, v in attributes.items() if v is not None}))
        yield
        self.xml.endElement(name)

    def empty(self, name: str, **attributes: Any) -> None:
        with self.element(name, **attributes):
            pass

    def text(self, name: str, content: str, **attributes: Any) -> None:
        with self.element(name, **attributes):
            self.xml.characters(content)

    def translated(self, name: str, en: str, fr: str) -> None:
        with self.element(name):
            self.text("TranslatedText", en, xml__lang="en")
            self.text("TranslatedText", fr, xml__lang="fr")


def _anchored(moment: dt.datetime, d0: dt.date) -> str:
    """The moment re-expressed on the D0 anchor: 2000-01-01 is the participant's D0."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    day = study_day(d0, moment.date())
    return (D0_ANCHOR + dt.timedelta(days=day)).replace(
        hour=moment.hour, minute=moment.minute, second=moment.second).isoformat()


def _value(spec: FieldSpec, value: Any, d0: dt.date | None, assays: dict[int, str]) -> str | None:
    if value is None:
        return None
    if spec.kind == "date":
        return None if d0 is None else str(study_day(d0, value))
    if spec.kind in {"bool", "yesno", "tristate"}:
        return "true" if value else "false"
    if spec.kind == "assay":
        return assays.get(int(value))
    if hasattr(value, "value"):
        return str(value.value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _answers(spec: FieldSpec, language: str) -> str:
    """A yes/no field's own answer labels (ODM code lists cannot be boolean), for its
    description: " (true = Minor on the date of consent; ...)"."""
    if not spec.choices:
        return ""
    missing = "absent" if language == "fr" else "missing"
    named = [f"{'true' if stored is True else 'false' if stored is False else missing} = "
             f"{label.get(language)}" for stored, label in spec.choices]
    return f" ({'; '.join(named)})"


def _metadata(w: _Writer, forms: list[FormSpec]) -> None:
    codes = load_codes()
    with w.element("MetaDataVersion", OID=MDV_OID, Name="trialdb forms",
                   Description="CRFs of forms/ (dates as study days, no free text)"):
        with w.element("Protocol"):
            w.empty("StudyEventRef", StudyEventOID=EVENT_OID, OrderNumber=1, Mandatory="Yes")
        with w.element("StudyEventDef", OID=EVENT_OID, Name="Follow-up from screening to day 90 and beyond",
                       Repeating="No", Type="Common"):
            for order, form in enumerate(forms, start=1):
                w.empty("FormRef", FormOID=f"F.{form.name}", OrderNumber=order, Mandatory="No")
        for form in forms:
            with w.element("FormDef", OID=f"F.{form.name}", Name=form.title.en,
                           Repeating="Yes" if form.repeating else "No"):
                w.translated("Description", form.title.en, form.title.fr)
                w.empty("ItemGroupRef", ItemGroupOID=f"IG.{form.name}", Mandatory="Yes")
        for form in forms:
            with w.element("ItemGroupDef", OID=f"IG.{form.name}", Name=form.title.en, Repeating="No"):
                for order, spec in enumerate(exported_fields(form), start=1):
                    w.empty("ItemRef", ItemOID=item_oid(form, spec), OrderNumber=order,
                            Mandatory="Yes" if spec.required else "No")
        used: dict[str, type[Any]] = {}
        for form in forms:
            for spec in exported_fields(form):
                with w.element("ItemDef", OID=item_oid(form, spec), Name=item_name(spec),
                               DataType=_DATA_TYPES[spec.kind]):
                    suffix_en = " (study day from D0)" if spec.kind == "date" else ""
                    suffix_fr = " (jour d'étude depuis J0)" if spec.kind == "date" else ""
                    w.translated("Description", spec.comment + suffix_en + _answers(spec, "en"),
                                 spec.label.fr + suffix_fr + _answers(spec, "fr"))
                    w.translated("Question", spec.label.en + suffix_en, spec.label.fr + suffix_fr)
                    if spec.enum is not None:
                        used[spec.enum.__name__] = spec.enum
                        w.empty("CodeListRef", CodeListOID=f"CL.{spec.enum.__name__}")
        for name, enum_class in sorted(used.items()):
            labels = codes.get(name, {})
            with w.element("CodeList", OID=f"CL.{name}", Name=name, DataType="text"):
                for member in enum_class:
                    code = str(member.value)
                    label = labels.get(code)
                    with w.element("CodeListItem", CodedValue=code):
                        w.translated("Decode", label.en if label else code, label.fr if label else code)


def write_odm(session: Session, path: Path, *, snapshot: DataSnapshot | None = None,
              site_ids: frozenset[int] | None = None, software: str = "unknown") -> Path:
    """Write the ODM 1.3.2 document of `session`'s data (usually a snapshot) to `path`."""
    forms = list(load_forms().values())
    people = exported_participants(session, site_ids)
    d0_of: dict[int, dt.date | None] = {
        int(pid): (None if pd.isna(d0) else d0) for pid, d0 in zip(people["participant_id"], people["d0"],
                                                                   strict=True)}
    numbers = dict(zip(people["participant_id"], people["study_number"], strict=True))
    sites = sorted(set(people["site_code"]))
    site_of = dict(zip(people["participant_id"], people["site_code"], strict=True))
    assays = {row.id: row.name for row in session.execute(select(Assay.id, Assay.name))}

    last_audit: dict[tuple[str, int], tuple[int | None, dt.datetime, int]] = {}
    for event in session.execute(select(AuditEvent.id, AuditEvent.entity, AuditEvent.entity_id,
                                        AuditEvent.user_id, AuditEvent.occurred_at)
                                 .where(AuditEvent.study_number.in_(list(numbers.values())),
                                        AuditEvent.entity_id.is_not(None))
                                 .order_by(AuditEvent.id)):
        last_audit[(str(event.entity), int(event.entity_id))] = (event.user_id, event.occurred_at, event.id)
    signatures: dict[tuple[str, int], tuple[int, dt.datetime, str]] = {}
    for sig in session.execute(select(Signature.entity, Signature.record_id, Signature.signer_id,
                                      Signature.signed_at, Signature.meaning)
                               .where(Signature.invalidated_at.is_(None),
                                      Signature.participant_id.in_(list(numbers)))
                               .order_by(Signature.id)):
        meaning = sig.meaning.value if hasattr(sig.meaning, "value") else str(sig.meaning)
        signatures[(str(sig.entity), int(sig.record_id))] = (sig.signer_id, sig.signed_at, meaning)
    users = sorted({u for u, _, _ in last_audit.values() if u is not None}
                   | {u for u, _, _ in signatures.values()})
    meanings = sorted({m for _, _, m in signatures.values()})

    created = (snapshot.created_at if snapshot else dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    with path.open("wb") as handle:
        w = _Writer(handle)
        w.xml.startDocument()
        with w.element("ODM", xmlns=ODM_NS, xmlns__xlink="http://www.w3.org/1999/xlink",
                       FileType="Snapshot", Granularity="All",
                       FileOID=f"trialdb.snapshot.{snapshot.id if snapshot else 'live'}",
                       CreationDateTime=created.replace(microsecond=0).isoformat(),
                       ODMVersion="1.3.2", Originator="trialdb", SourceSystem="trialdb",
                       SourceSystemVersion=software,
                       Description=(f"Snapshot {snapshot.id}, content SHA-256 {snapshot.content_hash}"
                                    if snapshot else None)):
            with w.element("Study", OID=STUDY_OID):
                with w.element("GlobalVariables"):
                    w.text("StudyName", "NCT06058858")
                    w.text("StudyDescription", "CMV reactivation after CAR-T cell therapy (cohort)")
                    w.text("ProtocolName", "NCT06058858")
                _metadata(w, forms)
            with w.element("AdminData", StudyOID=STUDY_OID):
                w.empty("User", OID="USR.system", UserType="Other")
                for user in users:
                    w.empty("User", OID=f"USR.U{user}")
                for code in sites:
                    with w.element("Location", OID=f"LOC.{code}", Name=f"Site {code}", LocationType="Site"):
                        w.empty("MetaDataVersionRef", StudyOID=STUDY_OID, MetaDataVersionOID=MDV_OID,
                                EffectiveDate=created.date().isoformat())
                for meaning in meanings:
                    with w.element("SignatureDef", OID=f"SD.{meaning}", Methodology="Electronic"):
                        w.text("Meaning", meaning.replace("_", " "))
                        w.text("LegalReason", "21 CFR Part 11 electronic signature")
            with w.element("ClinicalData", StudyOID=STUDY_OID, MetaDataVersionOID=MDV_OID):
                _clinical(session, w, forms, numbers, d0_of, site_of, assays, last_audit, signatures)
        w.xml.endDocument()
    return path


def _stamp(w: _Writer, user: int | None, site: str, moment: dt.datetime, d0: dt.date) -> None:
    w.empty("UserRef", UserOID="USR.system" if user is None else f"USR.U{user}")
    w.empty("LocationRef", LocationOID=f"LOC.{site}")
    w.text("DateTimeStamp", _anchored(moment, d0))


def _clinical(session: Session, w: _Writer, forms: list[FormSpec], numbers: dict[int, str],
              d0_of: dict[int, dt.date | None], site_of: dict[int, str], assays: dict[int, str],
              last_audit: dict[tuple[str, int], tuple[int | None, dt.datetime, int]],
              signatures: dict[tuple[str, int], tuple[int, dt.datetime, str]]) -> None:
    by_participant: dict[int, list[tuple[FormSpec, list[Any]]]] = {}
    ids = list(numbers)
    for form in forms:
        table = cast(Table, form.model.__table__)
        fields = exported_fields(form)
        rows = session.execute(
            select(table.c.id, table.c.participant_id, *[table.c[f.name] for f in fields])
            .where(table.c.participant_id.in_(ids), table.c.is_deleted.is_(False))
            .order_by(table.c.participant_id, table.c.id)).all()
        for row in rows:
            by_participant.setdefault(int(row[1]), []).append((form, [*row]))
    for pid in sorted(ids, key=lambda p: numbers[p]):
        d0 = d0_of[pid]
        site = site_of[pid]
        with w.element("SubjectData", SubjectKey=numbers[pid]):
            signature = signatures.get(("participant", pid))
            if signature is not None and d0 is not None:
                _signature(w, signature, site, d0)
            w.empty("SiteRef", LocationOID=f"LOC.{site}")
            records = by_participant.get(pid, [])
            if not records:
                continue
            with w.element("StudyEventData", StudyEventOID=EVENT_OID):
                for form, values in records:
                    entity = str(form.model.__tablename__)
                    record_id = int(values[0])
                    with w.element("FormData", FormOID=f"F.{form.name}",
                                   FormRepeatKey=str(record_id) if form.repeating else None):
                        audit = last_audit.get((entity, record_id))
                        if audit is not None and d0 is not None:
                            with w.element("AuditRecord"):
                                _stamp(w, audit[0], site, audit[1], d0)
                                w.text("SourceID", f"audit event {audit[2]}")
                        signature = signatures.get((entity, record_id))
                        if signature is not None and d0 is not None:
                            _signature(w, signature, site, d0)
                        with w.element("ItemGroupData", ItemGroupOID=f"IG.{form.name}"):
                            for spec, value in zip(exported_fields(form), values[2:], strict=True):
                                text = _value(spec, value, d0, assays)
                                if text is not None:
                                    w.empty("ItemData", ItemOID=item_oid(form, spec), Value=text)


def _signature(w: _Writer, signature: tuple[int, dt.datetime, str], site: str, d0: dt.date) -> None:
    signer, moment, meaning = signature
    with w.element("Signature"):
        w.empty("UserRef", UserOID=f"USR.U{signer}")
        w.empty("LocationRef", LocationOID=f"LOC.{site}")
        w.empty("SignatureRef", SignatureOID=f"SD.{meaning}")
        w.text("DateTimeStamp", _anchored(moment, d0))
