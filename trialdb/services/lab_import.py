"""Importing a laboratory's viral-load results from a CSV file.

The default layout has the columns
``study_number,virus,specimen,sampled_on,result,unit,assay``; other layouts
go through a saved :class:`~trialdb.models.LabColumnMapping` (one per
laboratory). French files are understood: ``;`` separators, latin-1 or UTF-8
with a byte-order mark, ``21/11/2026`` dates, ``1,2E+04`` numbers and the
laboratory notations that :func:`trialdb.study.parse_lab_result` reads
(``<62``, ``ND``...).

Every row is classified:

* **new**: added by the import;
* **duplicate**: the same result is already recorded (nothing added), which
  makes importing the same file twice add nothing;
* **conflicting**: a different result is recorded for the same participant,
  virus, specimen, assay and day (someone must look);
* **invalid**: the row cannot be read, names an unknown participant or one
  outside the importer's sites, an unknown assay...

The file is read as a stream, in batches: memory does not grow with its size.
New rows are written as they are found, inside a savepoint, so later rows are
compared with earlier ones through the database. The savepoint is released
only when the run is not a dry run and no row is invalid or conflicting: the
import is all-or-nothing, and a dry run classifies exactly as the real run.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import IO, Any, Final, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from trialdb.db import reserve_ids, utcnow
from trialdb.errors import InvalidInput, NotFound, UserError
from trialdb.models import Assay, LabColumnMapping, LabImportBatch, Participant, Site, ViralLoadResult
from trialdb.services import audit
from trialdb.services.actor import Actor, require_entry
from trialdb.study import ParsedLoad, parse_lab_result, parse_unit
from trialdb.vocab import LoadUnit, ResultState, Specimen, StrEnum, Virus

FIELDS: Final = ("study_number", "virus", "specimen", "sampled_on", "result", "unit", "assay")
#: Fields a file may leave out when the mapping gives no default: the unit
#: then is the assay's own.
OPTIONAL_FIELDS: Final = frozenset({"unit"})
BATCH_SIZE: Final = 1000
#: Problems kept in the summary for display; every row still reaches `on_row`.
KEPT_PROBLEMS: Final = 500

_SNIFF_BYTES: Final = 65536


class RowKind(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    INVALID = "invalid"


ROW_KIND_LABELS: Final[Mapping[RowKind, tuple[str, str]]] = {
    RowKind.NEW: ("new", "nouveau"),
    RowKind.DUPLICATE: ("duplicate", "doublon"),
    RowKind.CONFLICT: ("conflicting", "en conflit"),
    RowKind.INVALID: ("invalid", "invalide"),
}


@dataclass(frozen=True)
class RowOutcome:
    """What became of one data row (`line` counts the header as line 1)."""

    line: int
    kind: RowKind
    study_number: str
    summary: str
    reason_en: str = ""
    reason_fr: str = ""
    field: str | None = None

    def reason(self, language: str = "fr") -> str:
        return self.reason_fr if language == "fr" else self.reason_en


@dataclass
class ImportSummary:
    file_name: str
    file_sha256: str = ""
    mapping_code: str | None = None
    dry_run: bool = True
    committed: bool = False
    batch_id: int | None = None
    already_imported_batch: int | None = None
    counts: dict[RowKind, int] = field(default_factory=lambda: dict.fromkeys(RowKind, 0))
    problems: list[RowOutcome] = field(default_factory=list)

    @property
    def rows_total(self) -> int:
        return sum(self.counts.values())

    @property
    def blocking(self) -> int:
        """Rows that stop a commit: invalid or conflicting."""
        return self.counts[RowKind.INVALID] + self.counts[RowKind.CONFLICT]


@dataclass(frozen=True)
class Layout:
    """Where each import field is in a file (headers compared case-insensitively)."""

    columns: Mapping[str, str]
    defaults: Mapping[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    encoding: str | None = None
    code: str | None = None


DEFAULT_LAYOUT: Final = Layout(columns={name: name for name in FIELDS})


# --- saved column mappings -----------------------------------------------------------------------

_CODE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{1,59}")


def save_mapping(session: Session, actor: Actor, *, code: str, laboratory: str,
                 columns: Mapping[str, str], defaults: Mapping[str, str] | None = None,
                 delimiter: str | None = None, encoding: str | None = None) -> LabColumnMapping:
    """Create or replace the column mapping `code` (audited)."""
    require_entry(actor)  # a mapping decides what an import stores: the importers' rule
    code = code.strip().lower()
    if not _CODE.fullmatch(code):
        raise InvalidInput(
            "A mapping code has 2 to 60 lower-case letters, digits, '-' or '_'.",
            "Un code de correspondance comporte 2 à 60 lettres minuscules, chiffres, « - » ou « _ ».",
            field="code")
    defaults = dict(defaults or {})
    columns = {k: v.strip() for k, v in columns.items() if v and v.strip()}
    unknown = (set(columns) | set(defaults)) - set(FIELDS)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise InvalidInput(f"Unknown import fields: {names} (known: {', '.join(FIELDS)}).",
                           f"Champs d'import inconnus : {names} (connus : {', '.join(FIELDS)}).",
                           field="columns")
    missing = [f for f in FIELDS if f not in columns and f not in defaults and f not in OPTIONAL_FIELDS]
    if missing:
        names = ", ".join(missing)
        raise InvalidInput(f"Give a column or a fixed value for: {names}.",
                           f"Indiquez une colonne ou une valeur fixe pour : {names}.", field="columns")
    if delimiter is not None and delimiter not in {",", ";", "\t", "|"}:
        raise InvalidInput("The separator must be ',', ';', '|' or a tab.",
                           "Le séparateur doit être « , », « ; », « | » ou une tabulation.",
                           field="delimiter")
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InvalidInput(f"Unknown text encoding {encoding!r}.",
                               f"Encodage de texte inconnu {encoding!r}.", field="encoding") from None
    mapping = session.scalar(select(LabColumnMapping).where(LabColumnMapping.code == code))
    action = "update" if mapping else "create"
    old = _mapping_values(mapping) if mapping else {}
    if mapping is None:
        mapping = LabColumnMapping(code=code)
        session.add(mapping)
    mapping.laboratory = laboratory.strip() or code
    mapping.columns = columns
    mapping.defaults = defaults
    mapping.delimiter = delimiter
    mapping.encoding = encoding or None
    session.flush()
    new = _mapping_values(mapping)
    audit.record(session, actor, audit.Entry(
        action=action, entity="lab_column_mapping", entity_id=mapping.id,
        changes={k: [old.get(k), v] for k, v in new.items() if old.get(k) != v},
    ))
    return mapping


def _mapping_values(mapping: LabColumnMapping) -> dict[str, Any]:
    return {"code": mapping.code, "laboratory": mapping.laboratory, "columns": mapping.columns,
            "defaults": mapping.defaults, "delimiter": mapping.delimiter,
            "encoding": mapping.encoding}


def layout_for(session: Session, code: str | None) -> Layout:
    if not code:
        return DEFAULT_LAYOUT
    mapping = session.scalar(select(LabColumnMapping).where(LabColumnMapping.code == code.strip().lower()))
    if mapping is None:
        raise NotFound(f"There is no column mapping {code!r}.",
                       f"La correspondance de colonnes {code!r} n'existe pas.", field="mapping")
    return Layout(columns=dict(mapping.columns), defaults=dict(mapping.defaults or {}),
                  delimiter=mapping.delimiter, encoding=mapping.encoding, code=mapping.code)


def list_mappings(session: Session) -> list[LabColumnMapping]:
    return list(session.scalars(select(LabColumnMapping).order_by(LabColumnMapping.code)))


# --- reading the file -----------------------------------------------------------------------------


class _HashingReader(io.RawIOBase):
    """A binary stream that hashes every byte read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        if not data:
            return 0
        n = len(data)
        buffer[:n] = data
        self.sha256.update(data)
        self.size += n
        return n


def _encoding_of(head: bytes, declared: str | None) -> str:
    if declared:
        return declared
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def _delimiter_of(header: str, declared: str | None) -> str:
    if declared:
        return declared
    counts = {sep: header.count(sep) for sep in (";", ",", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _folded_header(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().casefold()


#: One data row: the import fields in the order of FIELDS, stripped ("" for an
#: optional field the layout leaves out).
_Row = tuple[str, ...]


class _Source:
    """The rows of the file as tuples of the import fields, with line numbers."""

    def __init__(self, stream: IO[bytes], layout: Layout) -> None:
        self.hasher = _HashingReader(stream)
        buffered = io.BufferedReader(self.hasher, buffer_size=_SNIFF_BYTES)
        encoding = _encoding_of(buffered.peek(_SNIFF_BYTES)[:_SNIFF_BYTES], layout.encoding)
        self.text = io.TextIOWrapper(buffered, encoding=encoding, newline="")
        self.layout = layout
        header_line = self._read_header()
        self.delimiter = _delimiter_of(header_line, layout.delimiter)
        header = next(csv.reader([header_line], delimiter=self.delimiter), [])
        positions = {_folded_header(name): index for index, name in enumerate(header)}
        self.index: dict[str, int] = {}
        missing = []
        for name in FIELDS:
            wanted = layout.columns.get(name)
            if wanted is not None and _folded_header(wanted) in positions:
                self.index[name] = positions[_folded_header(wanted)]
            elif name not in layout.defaults and name not in OPTIONAL_FIELDS:
                missing.append(wanted or name)
        if missing:
            found = ", ".join(h.strip() for h in header) or "-"
            names = ", ".join(missing)
            raise InvalidInput(
                f"Columns missing from the file's first line: {names} (found: {found}). "
                "Use the default layout or choose the laboratory's column mapping.",
                f"Colonnes absentes de la première ligne du fichier : {names} (trouvées : {found}). "
                "Utilisez la disposition par défaut ou choisissez la correspondance du laboratoire.",
                field="file")
        # Fixed values (a mapping's defaults, "" for a field left out) go in front of
        # each row's values, so that one itemgetter picks every field in FIELDS order.
        fixed = [name for name in FIELDS if name not in self.index]
        self.fixed = [str(layout.defaults.get(name, "")) for name in fixed]
        self.pick = operator.itemgetter(*[
            fixed.index(name) if name in fixed else len(fixed) + self.index[name] for name in FIELDS])

    def _read_header(self) -> str:
        try:
            line = self.text.readline()
        except UnicodeDecodeError:
            raise _encoding_error() from None
        if not line.strip():
            raise InvalidInput("The file is empty.", "Le fichier est vide.", field="file")
        return line.rstrip("\r\n")

    def rows(self) -> Iterator[tuple[int, _Row | None]]:
        """(line number, fields) per non-blank row; None fields: too few columns."""
        reader = csv.reader(self.text, delimiter=self.delimiter)
        width = max(self.index.values(), default=-1) + 1
        fixed, pick, strip = self.fixed, self.pick, str.strip
        try:
            for values in reader:
                if not "".join(values).strip():
                    continue
                line = reader.line_num + 1
                if len(values) < width:
                    yield line, None
                    continue
                yield line, tuple(map(strip, pick(fixed + values)))
            self.text.read()  # hash any trailing bytes
        except UnicodeDecodeError:
            raise _encoding_error() from None
        except csv.Error as error:
            raise InvalidInput(f"The file is not a readable CSV file ({error}).",
                               f"Le fichier n'est pas un CSV lisible ({error}).", field="file") from None


def _encoding_error() -> InvalidInput:
    return InvalidInput(
        "The file mixes text encodings: save it as UTF-8 or latin-1 (ISO-8859-1).",
        "Le fichier mélange des encodages de texte : enregistrez-le en UTF-8 ou latin-1 (ISO-8859-1).",
        field="file")


# --- reading one row --------------------------------------------------------------------------------

_VIRUS_ALIASES: Final[Mapping[str, Virus]] = {
    **{v.value.casefold(): v for v in Virus},
    "hcmv": Virus.CMV, "cytomegalovirus": Virus.CMV,
    "torque teno virus": Virus.TTV, "torquetenovirus": Virus.TTV,
    "hpgv": Virus.PEGIVIRUS, "gbv-c": Virus.PEGIVIRUS, "hhv6": Virus.HHV6,
    "adv": Virus.ADENOVIRUS, "adenovirus": Virus.ADENOVIRUS,
}  # fmt: skip
_SPECIMEN_ALIASES: Final[Mapping[str, Specimen]] = {
    **{s.value.casefold(): s for s in Specimen},
    "whole blood": Specimen.WHOLE_BLOOD, "sang total": Specimen.WHOLE_BLOOD,
    "sang": Specimen.WHOLE_BLOOD, "st": Specimen.WHOLE_BLOOD,
    "selles": Specimen.STOOL, "autre": Specimen.OTHER,
}  # fmt: skip
_DATE_FORMATS: Final = (
    re.compile(r"(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})"),
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
)


@lru_cache(maxsize=4096)
def _parsed(text: str, unit: LoadUnit, lloq: float | None) -> tuple[ResultState, Decimal | None,
                                                                    float | None]:
    """parse_lab_result, remembered: laboratory files repeat the same notations (ND, <62...).

    The value comes both as the exact decimal (for display) and as the float stored.
    """
    parsed: ParsedLoad = parse_lab_result(text, unit, lloq=lloq)
    value = parsed.quantified_value
    return parsed.state, value, None if value is None else float(value)


@lru_cache(maxsize=256)
def _unit(text: str) -> LoadUnit:
    return parse_unit(text)


class _RowError(Exception):
    def __init__(self, en: str, fr: str, field: str) -> None:
        super().__init__(en)
        self.en, self.fr, self.field = en, fr, field


def _virus(text: str) -> Virus:
    virus = _VIRUS_ALIASES.get(text.strip().casefold())
    if virus is None:
        known = ", ".join(Virus.values())
        raise _RowError(f"Unknown virus {text!r} (known: {known}).",
                        f"Virus inconnu {text!r} (connus : {known}).", "virus")
    return virus


def _specimen(text: str) -> Specimen:
    specimen = _SPECIMEN_ALIASES.get(text.strip().casefold().replace("_", " "),
                                     _SPECIMEN_ALIASES.get(text.strip().casefold()))
    if specimen is None:
        raise _RowError(f"Unknown specimen {text!r} (plasma, whole_blood, stool, other).",
                        f"Prélèvement inconnu {text!r} (plasma, sang total, selles, autre).", "specimen")
    return specimen


def _date(text: str, today: date) -> date:
    for pattern in _DATE_FORMATS:
        match = pattern.fullmatch(text.strip())
        if match:
            try:
                day = date(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError:
                break
            if day > today:
                raise _RowError(f"The sampling date {text} is in the future.",
                                f"La date de prélèvement {text} est dans le futur.", "sampled_on")
            return day
    raise _RowError(f"Date not understood: {text!r} (write 21/11/2026 or 2026-11-21).",
                    f"Date non comprise : {text!r} (écrivez 21/11/2026 ou 2026-11-21).", "sampled_on")


@lru_cache(maxsize=4096)
def _cached_date(text: str, today: date) -> date:
    return _date(text, today)


@dataclass(frozen=True)
class _Known:
    participant_id: int
    site_id: int
    site_code: str
    born: date  # the first day of the month of birth


@dataclass(frozen=True)
class _AssayFacts:
    """What the import needs of an assay, read once (not through the ORM per row)."""

    id: int
    name: str
    virus: Virus
    specimen: Specimen
    unit: LoadUnit
    lloq: float | None


@dataclass(frozen=True)
class _Measure:
    """What a row's virus, specimen, assay and unit texts mean, checked together."""

    virus: Virus
    specimen: Specimen
    assay: _AssayFacts
    unit: LoadUnit


@dataclass(frozen=True)
class _Refusal:
    """Why a row's virus, specimen, assay and unit texts are refused (a remembered _RowError).

    `before_date`: the problem is with the virus or specimen, which are checked
    before the sampling date (so a row with several problems names the same one
    as it would without the cache).
    """

    en: str
    fr: str
    field: str
    before_date: bool

    def error(self) -> _RowError:
        return _RowError(self.en, self.fr, self.field)


#: Participant, virus, specimen, day, assay (members hash and compare as their text).
_Key = tuple[int, Virus, Specimen, date, int]
#: A result already recorded (id 0: an earlier row of the file): id, state, value, unit, printed.
_Recorded = tuple[int, ResultState, float | None, LoadUnit, str | None]
#: Distinct virus/specimen/assay/unit spellings remembered (a file has a handful).
_MEASURES_KEPT: Final = 4096


@dataclass(slots=True)
class _Candidate:
    line: int
    participant: _Known
    study_number: str
    virus: Virus
    specimen: Specimen
    sampled_on: date
    assay: _AssayFacts
    state: ResultState
    value: Decimal | None
    number: float | None  # the value as stored
    unit: LoadUnit
    reported_as: str
    key: _Key

    def describe(self) -> str:
        shown = f"{self.value} {self.unit}" if self.value is not None else self.state.value
        return (f"{self.study_number} {self.virus} {self.specimen} {self.sampled_on.isoformat()} "
                f"{shown} ({self.assay.name})")


# --- the use case -----------------------------------------------------------------------------------


_RESULTS: Final = cast(Table, ViralLoadResult.__table__)
# Built once: the compiled form is cached and each batch only binds its values.
_RECORDED_QUERY: Final = (
    select(_RESULTS.c.id, _RESULTS.c.participant_id, _RESULTS.c.virus, _RESULTS.c.specimen,
           _RESULTS.c.sampled_on, _RESULTS.c.assay_id, _RESULTS.c.state, _RESULTS.c.value,
           _RESULTS.c.unit, _RESULTS.c.reported_as)
    .where(_RESULTS.c.participant_id.in_(bindparam("participants", expanding=True)),
           _RESULTS.c.sampled_on.in_(bindparam("days", expanding=True)),
           _RESULTS.c.is_deleted.is_(False)))


class _Importer:
    def __init__(self, session: Session, actor: Actor, summary: ImportSummary, today: date,
                 on_row: Callable[[RowOutcome], None] | None) -> None:
        self.session = session
        self.actor = actor
        self.summary = summary
        self.today = today
        self.on_row = on_row
        self.participants: dict[str, _Known | None] = {}
        self.assays = {a.name.casefold(): _AssayFacts(a.id, a.name, a.virus, a.specimen, a.unit, a.lloq)
                       for a in session.scalars(select(Assay))}
        self.measures: dict[tuple[str, str, str, str], _Measure | _Refusal] = {}

    def report(self, outcome: RowOutcome) -> None:
        self.summary.counts[outcome.kind] += 1
        if outcome.kind is not RowKind.NEW and len(self.summary.problems) < KEPT_PROBLEMS:
            self.summary.problems.append(outcome)
        if self.on_row is not None:
            self.on_row(outcome)

    def _load_participants(self, numbers: set[str]) -> None:
        wanted = numbers - self.participants.keys()
        if not wanted:
            return
        rows = self.session.execute(
            select(Participant.study_number, Participant.id, Participant.site_id, Site.code,
                   Participant.birth_year, Participant.birth_month)
            .join(Site, Site.id == Participant.site_id)
            .where(Participant.study_number.in_(wanted))
        ).all()
        for number, pid, site_id, code, year, month in rows:
            visible = self.actor.may_see_site(site_id)
            self.participants[number] = _Known(pid, site_id, code, date(year, month, 1)) if visible else None
        for number in wanted - {row[0] for row in rows}:
            self.participants[number] = None

    def _measure(self, virus_text: str, specimen_text: str, assay_text: str,
                 unit_text: str) -> _Measure | _Refusal:
        try:
            virus = _virus(virus_text)
            specimen = _specimen(specimen_text)
        except _RowError as error:
            return _Refusal(error.en, error.fr, error.field, before_date=True)
        assay = self.assays.get(assay_text.casefold())
        if assay is None:
            return _Refusal(f"Unknown assay {assay_text!r}: it must be declared in trialdb first.",
                            f"Technique inconnue {assay_text!r} : déclarez-la d'abord dans trialdb.",
                            "assay", before_date=False)
        if assay.virus is not virus or assay.specimen is not specimen:
            return _Refusal(
                f"Assay {assay.name!r} measures {assay.virus} in {assay.specimen}, "
                f"not {virus} in {specimen}.",
                f"La technique {assay.name!r} mesure {assay.virus} dans {assay.specimen}, "
                f"pas {virus} dans {specimen}.", "assay", before_date=False)
        try:
            unit = _unit(unit_text) if unit_text else assay.unit
        except InvalidInput as error:
            return _Refusal(error.message("en"), error.message("fr"), "unit", before_date=False)
        if unit is not assay.unit:
            return _Refusal(f"Assay {assay.name!r} reports in {assay.unit}, not {unit}.",
                            f"La technique {assay.name!r} rend ses résultats en {assay.unit}, pas en {unit}.",
                            "unit", before_date=False)
        return _Measure(virus, specimen, assay, unit)

    def candidate(self, line: int, row: _Row) -> _Candidate:
        number_text, virus_text, specimen_text, sampled_text, text, unit_text, assay_text = row
        if "\x00" in "".join(row):
            raise _RowError("The row contains a NUL character: the file is damaged or not text.",
                            "La ligne contient un caractère NUL : le fichier est abîmé ou n'est "
                            "pas du texte.", "file")
        number = number_text.upper()
        known = self.participants.get(number)
        if known is None:
            raise _RowError(f"No participant {number or '(empty)'} among your sites' participants.",
                            f"Aucun participant {number or '(vide)'} parmi ceux de vos centres.",
                            "study_number")
        spelling = (virus_text, specimen_text, assay_text, unit_text)
        measure = self.measures.get(spelling)
        if measure is None:
            if len(self.measures) >= _MEASURES_KEPT:  # memory stays flat on hostile files
                self.measures.clear()
            measure = self.measures[spelling] = self._measure(*spelling)
        if isinstance(measure, _Refusal) and measure.before_date:
            raise measure.error()
        sampled_on = _cached_date(sampled_text, self.today)
        if sampled_on < known.born:
            raise _RowError(f"The sampling date {sampled_text} is before the participant's birth.",
                            f"La date de prélèvement {sampled_text} précède la naissance.",
                            "sampled_on")
        if isinstance(measure, _Refusal):
            raise measure.error()
        if len(text) > 60:
            raise _RowError("The result is longer than 60 characters.",
                            "Le résultat dépasse 60 caractères.", "result")
        assay = measure.assay
        try:
            state, value, stored = _parsed(text, measure.unit, assay.lloq)
        except InvalidInput as error:
            raise _RowError(error.message("en"), error.message("fr"), "result") from None
        virus, specimen = measure.virus, measure.specimen
        return _Candidate(line, known, number, virus, specimen, sampled_on, assay, state, value, stored,
                          measure.unit, text,
                          (known.participant_id, virus, specimen, sampled_on, assay.id))

    def process(self, batch: list[tuple[int, _Row | None]], write_audit: bool) -> None:
        self._load_participants({row[0].upper() for _, row in batch if row and "\x00" not in row[0]})
        candidates: list[_Candidate] = []
        outcomes: list[RowOutcome] = []
        for line, row in batch:
            if row is None:
                outcomes.append(RowOutcome(line, RowKind.INVALID, "", "",
                                           "The row has fewer columns than the header.",
                                           "La ligne a moins de colonnes que l'en-tête."))
                continue
            try:
                candidates.append(self.candidate(line, row))
            except _RowError as error:
                outcomes.append(RowOutcome(line, RowKind.INVALID, row[0].upper(), " ".join(row),
                                           error.en, error.fr, error.field))
        if not candidates:
            for outcome in outcomes:
                self.report(outcome)
            return
        existing = self._existing(candidates)
        new: list[_Candidate] = []
        listening = self.on_row is not None
        for candidate in candidates:
            same_day = existing.get(candidate.key)
            if same_day:
                outcomes.append(self._classify(candidate, same_day))
                continue
            # New: later rows of the file compare with it as with a recorded result.
            new.append(candidate)
            existing[candidate.key] = [(0, candidate.state, candidate.number, candidate.unit,
                                        candidate.reported_as)]
            if listening:  # a new row's description is only wanted by a listener
                outcomes.append(RowOutcome(candidate.line, RowKind.NEW, candidate.study_number,
                                           candidate.describe()))
            else:
                self.summary.counts[RowKind.NEW] += 1
        for outcome in sorted(outcomes, key=lambda o: o.line):
            self.report(outcome)
        if new:
            self._insert(new, write_audit)

    def _existing(self, candidates: list[_Candidate]) -> dict[_Key, list[_Recorded]]:
        """The results already recorded on the batch's participants and days: one query."""
        rows = self.session.execute(_RECORDED_QUERY, {
            "participants": sorted({c.participant.participant_id for c in candidates}),
            "days": sorted({c.sampled_on for c in candidates})})
        found: dict[_Key, list[_Recorded]] = {}
        for rid, pid, virus, specimen, sampled_on, assay_id, state, value, unit, reported in rows:
            key = (pid, Virus(virus), Specimen(specimen), sampled_on, assay_id)
            found.setdefault(key, []).append((rid, ResultState(state), value, LoadUnit(unit), reported))
        return found

    def _classify(self, c: _Candidate, same_day: list[_Recorded]) -> RowOutcome:
        """A duplicate or a conflict: something is recorded on the same key."""
        for rid, state, old_value, unit, _reported in same_day:
            if state is c.state and unit is c.unit and old_value == c.number:
                where_en = f"result #{rid}" if rid else "an earlier row of this file"
                where_fr = f"résultat n° {rid}" if rid else "une ligne précédente du fichier"
                return RowOutcome(c.line, RowKind.DUPLICATE, c.study_number, c.describe(),
                                  f"Already recorded ({where_en}): nothing added.",
                                  f"Déjà enregistré ({where_fr}) : rien n'est ajouté.")
        rid, state, old_value, unit, reported = same_day[0]
        shown = reported or (f"{old_value:g} {unit}" if old_value is not None else state.value)
        where_en = f"result #{rid}" if rid else "an earlier row of this file"
        where_fr = f"résultat n° {rid}" if rid else "une ligne précédente du fichier"
        return RowOutcome(
            c.line, RowKind.CONFLICT, c.study_number, c.describe(),
            f"A different result is recorded for this participant, virus, specimen, assay and day: "
            f"{shown!r} ({where_en}). If the laboratory amended it, correct the form with a reason.",
            "Un autre résultat est enregistré pour ce participant, virus, prélèvement, "
            "technique et jour : "
            f"{shown!r} ({where_fr}). Si le laboratoire l'a corrigé, modifiez la fiche avec un motif.",
            "result")

    def _insert(self, new: list[_Candidate], write_audit: bool) -> None:
        """Insert the batch with one executemany under ids reserved first, and audit each row."""
        ids = reserve_ids(self.session, _RESULTS, len(new))
        now = utcnow()
        connection = self.session.connection()
        if connection.dialect.name == "sqlite":
            # Straight to the driver, values as SQLAlchemy's SQLite types store them
            # (enumerations are str, ISO dates, naive UTC timestamps, 0/1): per-parameter
            # processing would otherwise be most of the cost of a large import.
            # Enumerations go as plain str: the driver binds a str subclass much more slowly.
            stamp = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
            text = _PLAIN_TEXT
            connection.exec_driver_sql(_SQLITE_INSERT, [
                (rid, c.participant.participant_id, text[c.virus], text[c.specimen], c.sampled_on.isoformat(),
                 c.assay.id, text[c.state], c.number, text[c.unit], c.reported_as, stamp, stamp)
                for rid, c in zip(ids, new, strict=True)])
        else:
            connection.execute(insert(_RESULTS), [
                {"id": rid, "participant_id": c.participant.participant_id, "virus": c.virus,
                 "specimen": c.specimen, "sampled_on": c.sampled_on, "assay_id": c.assay.id,
                 "state": c.state, "value": c.number, "unit": c.unit, "reported_as": c.reported_as,
                 "is_complete": True, "row_version": 1, "is_deleted": False, "created_at": now,
                 "updated_at": now}
                for rid, c in zip(ids, new, strict=True)])
        if not write_audit:
            return
        audit.record_many(self.session, self.actor, [
            audit.Entry(action="create", entity="viral_load_result", entity_id=rid,
                        study_number=c.study_number, site_code=c.participant.site_code,
                        changes_json=created_changes(c.virus, c.specimen, c.sampled_on, c.assay.id,
                                                     c.state, c.unit, c.reported_as, c.number),
                        reason=f"laboratory import, line {c.line}")
            for rid, c in zip(ids, new, strict=True)])


#: Each enumeration member's text as a plain str.
_PLAIN_TEXT: Final[Mapping[StrEnum, str]] = {
    member: member.value for kind in (Virus, Specimen, ResultState, LoadUnit) for member in kind}

_SQLITE_INSERT: Final = (
    "INSERT INTO viral_load_result (id, participant_id, virus, specimen, sampled_on, assay_id, state, "
    "value, unit, reported_as, is_complete, row_version, is_deleted, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, 0, ?, ?)")

_json_text = json.encoder.encode_basestring  # the encoder audit.canonical_json uses (ensure_ascii off)
#: Each enumeration member as a JSON string, encoded once.
_JSON_TEXT: Final[Mapping[StrEnum, str]] = {member: _json_text(text) for member, text in _PLAIN_TEXT.items()}


def created_changes(virus: Virus, specimen: Specimen, sampled_on: date, assay_id: int,
                    state: ResultState, unit: LoadUnit, reported_as: str, value: float | None) -> str:
    """The audit changes of a created result, as the text `audit.canonical_json` gives.

    Written out directly, keys in sorted order (a test holds it equal to
    canonical_json): serialising 100,000 dicts is a large share of an import.
    """
    shown = "" if value is None else f',"value":[null,{float.__repr__(value)}]'
    code = _JSON_TEXT
    return (f'{{"assay_id":[null,{int.__repr__(assay_id)}],"is_complete":[null,true],'
            f'"reported_as":[null,{_json_text(reported_as)}],'
            f'"sampled_on":[null,"{sampled_on.isoformat()}"],'
            f'"specimen":[null,{code[specimen]}],"state":[null,{code[state]}],'
            f'"unit":[null,{code[unit]}]{shown},"virus":[null,{code[virus]}]}}')


def import_lab_file(session: Session, actor: Actor, stream: IO[bytes], *, file_name: str,
                    mapping: str | None = None, dry_run: bool = False, today: date | None = None,
                    on_row: Callable[[RowOutcome], None] | None = None,
                    batch_size: int = BATCH_SIZE) -> ImportSummary:
    """Classify every row of a laboratory file and, unless `dry_run`, add the new ones.

    Nothing is written unless the run is not a dry run and no row is invalid or
    conflicting (see the module's docstring). The caller commits its unit of work.
    """
    require_entry(actor)  # importing is data entry: the same rule as the web's
    layout = layout_for(session, mapping)
    summary = ImportSummary(file_name=file_name[-255:], mapping_code=layout.code, dry_run=dry_run)
    importer = _Importer(session, actor, summary, today or date.today(), on_row)
    savepoint = session.begin_nested()
    try:
        source = _Source(stream, layout)
        batch: list[tuple[int, _Row | None]] = []
        for item in source.rows():
            batch.append(item)
            if len(batch) >= batch_size:
                importer.process(batch, write_audit=not dry_run)
                batch = []
        importer.process(batch, write_audit=not dry_run)
        summary.file_sha256 = source.hasher.sha256.hexdigest()
        summary.already_imported_batch = session.scalar(
            select(LabImportBatch.id).where(LabImportBatch.file_sha256 == summary.file_sha256)
            .order_by(LabImportBatch.id).limit(1))
        if dry_run or summary.blocking:
            savepoint.rollback()
            return summary
        batch_row = LabImportBatch(
            imported_by=actor.name, source_file=summary.file_name, file_sha256=summary.file_sha256,
            mapping_code=layout.code, rows_total=summary.rows_total,
            rows_new=summary.counts[RowKind.NEW], rows_duplicate=summary.counts[RowKind.DUPLICATE])
        session.add(batch_row)
        session.flush()
        audit.record(session, actor, audit.Entry(
            action="import", entity="lab_import_batch", entity_id=batch_row.id,
            changes={"file_sha256": [None, summary.file_sha256],
                     "mapping": [None, layout.code],
                     "rows_total": [None, summary.rows_total],
                     "rows_new": [None, summary.counts[RowKind.NEW]],
                     "rows_duplicate": [None, summary.counts[RowKind.DUPLICATE]]},
            reason="laboratory results import",
        ))
        savepoint.commit()
        summary.committed = True
        summary.batch_id = batch_row.id
        return summary
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise


def refusal(summary: ImportSummary) -> UserError:
    """The error to show when a commit was refused because of blocking rows."""
    invalid, conflict = summary.counts[RowKind.INVALID], summary.counts[RowKind.CONFLICT]
    return InvalidInput(
        f"Nothing was imported: {invalid} invalid and {conflict} conflicting row(s). "
        "Correct the file (or the records) and import it again; a dry run lists the rows.",
        f"Rien n'a été importé : {invalid} ligne(s) invalide(s) et {conflict} en conflit. "
        "Corrigez le fichier (ou les fiches) et importez-le à nouveau ; un essai à blanc liste les lignes.",
        field="file")
