"""Writing datasets as CSV (+ codebook), Parquet, SAS transport v5, Stata and SPSS.

Each writer takes a :class:`~trialdb.exports.datasets.Dataset` and a folder
and returns the files it wrote. The format's limits are checked here,
before writing, and a value that does not fit fails with a message naming
it: a library must never truncate silently.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pyreadstat

from trialdb.errors import InvalidInput
from trialdb.exports.datasets import Dataset
from trialdb.exports.variables import DatasetSpec, Variable

FORMATS: Final = ("csv", "parquet", "xpt", "dta", "sav", "odm")

XPT_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,7}")
XPT_LABEL_MAX: Final = 40
XPT_VALUE_MAX_BYTES: Final = 200
#: What an xpt export does with non-ASCII text: refuse it (the default), or, when
#: asked explicitly, transliterate it (see `ascii_transliteration`).
XPT_ASCII_MODES: Final = ("refuse", "transliterate")
XPT_TRANSLITERATION: Final = "Unicode NFKD decomposition, combining marks removed"
STATA_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
STATA_LABEL_MAX: Final = 80
STATA_STR_MAX_BYTES: Final = 2045
SPSS_NAME: Final = re.compile(r"[A-Za-z@][A-Za-z0-9_.@#$]{0,63}")
SPSS_LABEL_MAX: Final = 256


class FormatLimitError(InvalidInput):
    """A dataset does not fit a format's limits."""


def _limit(fmt: str, dataset: str, what_en: str, what_fr: str) -> FormatLimitError:
    return FormatLimitError(
        f"{fmt}: {dataset}: {what_en}. Nothing was truncated; choose another format or fix the data.",
        f"{fmt} : {dataset} : {what_fr}. Rien n'a été tronqué ; choisissez un autre format ou "
        "corrigez les données.")


def _codes_text(variable: Variable) -> str:
    return " | ".join(f"{code}={en}" for code, en, _fr in variable.code_labels())


# --- CSV and the codebook ---------------------------------------------------------------------------


def write_csv(dataset: Dataset, folder: Path) -> list[Path]:
    """UTF-8, comma-separated, header line, quotes only where needed, empty for missing."""
    path = folder / f"{dataset.spec.name}.csv"
    table = pa.Table.from_pandas(dataset.frame, preserve_index=False)
    pa_csv.write_csv(table, path, write_options=pa_csv.WriteOptions(quoting_style="needed"))
    return [path]


def write_codebook(specs: list[DatasetSpec], folder: Path) -> Path:
    """One row per variable of every dataset: names, labels fr/en, type, unit, codes."""
    path = folder / "codebook.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["dataset", "variable", "sas_name", "label_en", "label_fr", "type", "unit",
                         "codes", "codes_fr"])
        for spec in specs:
            for variable in spec.columns():
                writer.writerow([
                    spec.name, variable.name, variable.short, variable.label_en, variable.label_fr,
                    variable.kind, variable.unit or "", _codes_text(variable),
                    " | ".join(f"{code}={fr}" for code, _en, fr in variable.code_labels()),
                ])
    return path


# --- Parquet ------------------------------------------------------------------------------------------------


def write_parquet(dataset: Dataset, folder: Path) -> list[Path]:
    path = folder / f"{dataset.spec.name}.parquet"
    table = pa.Table.from_pandas(dataset.frame, preserve_index=False)
    fields = []
    for variable, arrow_field in zip(dataset.spec.columns(), table.schema, strict=True):
        meta = {"label_en": variable.label_en, "label_fr": variable.label_fr, "type": variable.kind,
                "unit": variable.unit or "", "codes": _codes_text(variable)}
        fields.append(arrow_field.with_metadata({k: v.encode() for k, v in meta.items()}))
    schema = pa.schema(fields, metadata={
        b"dataset": dataset.spec.name.encode(), b"label_en": dataset.spec.label_en.encode(),
        b"label_fr": dataset.spec.label_fr.encode()})
    pq.write_table(table.cast(schema), path)
    return [path]


# --- SAS, Stata, SPSS (pyreadstat) ----------------------------------------------------------------------


def _string_columns(frame: pd.DataFrame) -> list[str]:
    return [str(c) for c in frame.columns if frame[c].dtype == object]


def _byte_lengths(series: pd.Series, encoding: str) -> pd.Series:
    return series.dropna().map(lambda v: len(str(v).encode(encoding, errors="replace")))


def check_xpt(dataset: Dataset) -> None:
    """SAS transport v5: names <= 8, labels <= 40 ASCII, character values <= 200 bytes ASCII."""
    spec = dataset.spec
    fmt = "SAS transport (xpt)"
    if not XPT_NAME.fullmatch(spec.short):
        raise _limit(fmt, spec.name, f"member name {spec.short!r} is not a SAS name of at most 8 characters",
                     f"le nom de table {spec.short!r} n'est pas un nom SAS de 8 caractères au plus")
    seen: dict[str, str] = {}
    for variable in spec.columns():
        if not XPT_NAME.fullmatch(variable.short):
            raise _limit(fmt, spec.name, f"variable name {variable.short!r} ({variable.name}) is not a SAS "
                         "name of at most 8 characters",
                         f"le nom de variable {variable.short!r} ({variable.name}) n'est pas un nom SAS "
                         "de 8 caractères au plus")
        key = variable.short.upper()
        if key in seen:
            raise _limit(fmt, spec.name, f"{variable.name} and {seen[key]} share the SAS name {key}",
                         f"{variable.name} et {seen[key]} ont le même nom SAS {key}")
        seen[key] = variable.name
        if len(variable.label_en) > XPT_LABEL_MAX or not variable.label_en.isascii():
            raise _limit(fmt, spec.name, f"the label of {variable.name} ({variable.label_en!r}) is not "
                         f"ASCII of at most {XPT_LABEL_MAX} characters",
                         f"le libellé de {variable.name} ({variable.label_en!r}) n'est pas en ASCII "
                         f"de {XPT_LABEL_MAX} caractères au plus")
    for column in _string_columns(dataset.frame):
        values = dataset.frame[column].dropna().astype(str)
        bad = values[~values.map(str.isascii)]
        if len(bad):
            raise _limit(fmt, spec.name, f"column {column} holds non-ASCII text ({bad.iloc[0]!r})",
                         f"la colonne {column} contient du texte non ASCII ({bad.iloc[0]!r})")
        lengths = _byte_lengths(values, "ascii")
        if len(lengths) and lengths.max() > XPT_VALUE_MAX_BYTES:
            raise _limit(fmt, spec.name, f"column {column} holds a value of {lengths.max()} bytes "
                         f"(at most {XPT_VALUE_MAX_BYTES})",
                         f"la colonne {column} contient une valeur de {lengths.max()} octets "
                         f"({XPT_VALUE_MAX_BYTES} au plus)")


def ascii_transliteration(text: str) -> str:
    """`text` decomposed (Unicode NFKD) without its combining marks: 'Non détecté' -> 'Non detecte'.

    Characters without such a decomposition ('µ', 'œ', '€') stay as they are,
    so the result may still not be ASCII.
    """
    if text.isascii():
        return text
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def transliterated_for_xpt(dataset: Dataset) -> tuple[Dataset, int]:
    """A copy of `dataset` whose non-ASCII text values are transliterated; how many changed.

    Only for an export that asked for it (``--xpt-ascii transliterate``): the
    other formats keep the text as recorded. A value with no ASCII equivalent
    fails with a message naming it; nothing is dropped or replaced by '?'.
    """
    spec, frame = dataset.spec, dataset.frame
    copy: pd.DataFrame | None = None
    changed = 0
    for column in _string_columns(frame):
        values = frame[column]
        foreign = values.map(lambda v: isinstance(v, str) and not v.isascii()).astype(bool)
        if not foreign.any():
            continue
        replaced = values[foreign].map(ascii_transliteration)
        left = replaced[~replaced.map(str.isascii)]
        if len(left):
            raise _limit("SAS transport (xpt)", spec.name,
                         f"column {column} holds text with no ASCII transliteration ({left.iloc[0]!r}, "
                         f"from {values[left.index[0]]!r})",
                         f"la colonne {column} contient du texte sans translittération ASCII "
                         f"({left.iloc[0]!r}, depuis {values[left.index[0]]!r})")
        if copy is None:
            copy = frame.copy()
        copy.loc[foreign, column] = replaced
        changed += len(replaced)
    if copy is None:
        return dataset, 0
    return Dataset(spec, copy, list(dataset.notes)), changed


def _for_readstat(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integers become float64 (readstat's numeric), text stays object."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.Int64Dtype):
            out[column] = out[column].astype("float64")
    return out


def write_xpt(dataset: Dataset, folder: Path) -> list[Path]:
    check_xpt(dataset)
    spec = dataset.spec
    frame = _for_readstat(dataset.frame)
    frame.columns = [v.short for v in spec.columns()]
    path = folder / f"{spec.short.lower()}.xpt"
    pyreadstat.write_xport(frame, str(path), file_label=spec.label_en[:40], table_name=spec.short,
                           column_labels=[v.label_en for v in spec.columns()], file_format_version=5)
    return [path]


def check_stata(dataset: Dataset) -> None:
    spec = dataset.spec
    for variable in spec.columns():
        if not STATA_NAME.fullmatch(variable.name):
            raise _limit("Stata (dta)", spec.name, f"{variable.name!r} is not a Stata name (32 characters)",
                         f"{variable.name!r} n'est pas un nom Stata (32 caractères)")
        if len(variable.label_en) > STATA_LABEL_MAX:
            raise _limit("Stata (dta)", spec.name, f"the label of {variable.name} is longer than 80",
                         f"le libellé de {variable.name} dépasse 80 caractères")
    for column in _string_columns(dataset.frame):
        lengths = _byte_lengths(dataset.frame[column], "utf-8")
        if len(lengths) and lengths.max() > STATA_STR_MAX_BYTES:
            raise _limit("Stata (dta)", spec.name, f"column {column} holds a value longer than "
                         f"{STATA_STR_MAX_BYTES} bytes", f"la colonne {column} contient une valeur de plus "
                         f"de {STATA_STR_MAX_BYTES} octets")


def write_dta(dataset: Dataset, folder: Path) -> list[Path]:
    check_stata(dataset)
    path = folder / f"{dataset.spec.name}.dta"
    pyreadstat.write_dta(_for_readstat(dataset.frame), str(path), file_label=dataset.spec.label_en[:80],
                         column_labels=[v.label_en for v in dataset.spec.columns()], version=15)
    return [path]


def check_spss(dataset: Dataset) -> None:
    spec = dataset.spec
    for variable in spec.columns():
        if not SPSS_NAME.fullmatch(variable.name):
            raise _limit("SPSS (sav)", spec.name, f"{variable.name!r} is not an SPSS name",
                         f"{variable.name!r} n'est pas un nom SPSS")
        if len(variable.label_en) > SPSS_LABEL_MAX:
            raise _limit("SPSS (sav)", spec.name, f"the label of {variable.name} is too long",
                         f"le libellé de {variable.name} est trop long")


def write_sav(dataset: Dataset, folder: Path) -> list[Path]:
    check_spss(dataset)
    path = folder / f"{dataset.spec.name}.sav"
    pyreadstat.write_sav(_for_readstat(dataset.frame), str(path), file_label=dataset.spec.label_en,
                         column_labels=[v.label_en for v in dataset.spec.columns()])
    return [path]


WRITERS: Final[dict[str, Callable[[Dataset, Path], list[Path]]]] = {
    "csv": write_csv, "parquet": write_parquet, "xpt": write_xpt, "dta": write_dta, "sav": write_sav,
}
CHECKS: Final[dict[str, Callable[[Dataset], None]]] = {
    "xpt": check_xpt, "dta": check_stata, "sav": check_spss,
}


def parse_xpt_ascii(mode: str) -> str:
    if mode not in XPT_ASCII_MODES:
        raise InvalidInput(f"Unknown handling of non-ASCII text for xpt: {mode!r} "
                           f"(choose {' or '.join(XPT_ASCII_MODES)}).",
                           f"Traitement inconnu du texte non ASCII pour xpt : {mode!r} "
                           "(choisissez refuse ou transliterate).", field="xpt_ascii")
    return mode


def parse_formats(text: str) -> list[str]:
    chosen = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise InvalidInput(f"Unknown export format(s): {', '.join(unknown) or '(none)'}; "
                           f"choose among {', '.join(FORMATS)}.",
                           f"Format(s) d'export inconnu(s) : {', '.join(unknown) or '(aucun)'} ; "
                           f"choisissez parmi {', '.join(FORMATS)}.", field="formats")
    return list(dict.fromkeys(chosen))


def manifest_text(manifest: dict[str, object]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
