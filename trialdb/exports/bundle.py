"""The export use case: one bundle of files from one snapshot, with its manifest.

A bundle is a folder ``export-<bundle time>-s<snapshot id>/`` holding one
sub-folder per format, ``codebook.csv`` and ``manifest.json`` (SHA-256 of
every file, the snapshot's id and content hash, the endpoint settings'
hash, the software version). Every check (pseudonymisation scanner, format
limits) runs before the first file is written; a failure while writing
removes the folder, so a bundle is whole or absent. Each export is audited.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from trialdb.db import utcnow
from trialdb.errors import Forbidden, InvalidInput
from trialdb.exports import formats as fmt
from trialdb.exports.datasets import build_all
from trialdb.exports.scanner import scan
from trialdb.models import DataSnapshot, ExportBundle
from trialdb.services import audit, snapshots
from trialdb.services.actor import Actor
from trialdb.study.endpoint_settings import EndpointSettings, load_endpoint_settings
from trialdb.vocab import Role

EXPORT_ROLES: Final = frozenset({Role.STATISTICIAN, Role.DATA_MANAGER})
DATASET_STEPS: Final = 7

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ExportResult:
    bundle_id: int
    directory: Path
    manifest: dict[str, Any]
    snapshot_id: int


def require_exporter(actor: Actor) -> None:
    """Statisticians and data managers export (the operator at the command line too)."""
    if actor.role is not None and actor.role not in EXPORT_ROLES:
        raise Forbidden("Only statisticians and data managers may export the study's data.",
                        "Seuls les statisticiens et data managers peuvent exporter les données.")


def software_version() -> str:
    try:
        return metadata.version("trialdb")
    except metadata.PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def steps_for(formats: list[str]) -> int:
    """How many times `progress` is called for an export in these formats."""
    return DATASET_STEPS + len(formats) + 1


def run_export(session: Session, actor: Actor, out: Path, formats: list[str], *,
               snapshot_id: int | None = None, settings: EndpointSettings | None = None,
               progress: Progress | None = None, xpt_ascii: str = "refuse") -> ExportResult:
    """Export the study's data (a new snapshot unless `snapshot_id` names one) into `out`.

    `xpt_ascii`: "refuse" (default) fails an xpt export on non-ASCII text;
    "transliterate" writes the xpt files with such text transliterated
    (`formats.ascii_transliteration`), the other formats unchanged, and says
    so in the manifest.
    """
    require_exporter(actor)
    formats = fmt.parse_formats(",".join(formats))
    xpt_ascii = fmt.parse_xpt_ascii(xpt_ascii)
    settings = settings or load_endpoint_settings()
    snapshot: DataSnapshot = (snapshots.get(session, snapshot_id) if snapshot_id is not None
                              else snapshots.freeze(session, actor, "export"))
    site_ids = None if actor.all_sites else actor.site_ids
    started = utcnow()
    directory = Path(out) / f"export-{started:%Y%m%dT%H%M%S%fZ}-s{snapshot.id}"
    if directory.exists():
        raise InvalidInput(f"{directory} already exists.", f"{directory} existe déjà.", field="out")

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    files: list[Path] = []
    notes: list[str] = []
    try:
        with snapshots.open_snapshot(session, snapshot.id) as frozen:
            datasets = build_all(frozen, settings, site_ids=site_ids, step=step)
            scan(datasets)
            by_format = dict.fromkeys(formats, datasets)
            transliterated: dict[str, int] = {}
            if "xpt" in formats and xpt_ascii == "transliterate":
                by_format["xpt"] = []
                for dataset in datasets:
                    copy, changed = fmt.transliterated_for_xpt(dataset)
                    by_format["xpt"].append(copy)
                    if changed:
                        transliterated[dataset.spec.name] = changed
            for name in formats:
                check = fmt.CHECKS.get(name)
                for dataset in by_format[name] if check else []:
                    check(dataset)  # type: ignore[misc]
            directory.mkdir(parents=True)
            files.append(fmt.write_codebook([d.spec for d in datasets], directory))
            for name in formats:
                folder = directory / name
                folder.mkdir()
                if name == "odm":
                    from trialdb.exports.odm import write_odm

                    files.append(write_odm(frozen, folder / "study.odm.xml", snapshot=snapshot,
                                           site_ids=site_ids, software=software_version()))
                else:
                    for dataset in by_format[name]:
                        files.extend(fmt.WRITERS[name](dataset, folder))
                step(name)
            for dataset in datasets:
                notes.extend(f"{dataset.spec.name}: {note}" for note in dataset.notes)
            rows = {d.spec.name: len(d.frame) for d in datasets}
        manifest: dict[str, Any] = {
            "study": "NCT06058858",
            "created_at": started.isoformat(timespec="seconds"),
            "created_by": actor.name,
            "software": {"trialdb": software_version(), "python": platform.python_version()},
            "snapshot": {"id": snapshot.id, "content_hash": snapshot.content_hash,
                         "label": snapshot.label, "created_at": snapshot.created_at.isoformat(),
                         "schema_revision": snapshot.schema_revision},
            "endpoint_settings": {"hash": settings.settings_hash, "settings": settings.as_json_dict()},
            "formats": formats,
            **({"xpt_ascii": {"mode": xpt_ascii, **(
                {"method": fmt.XPT_TRANSLITERATION, "values_transliterated": transliterated}
                if xpt_ascii == "transliterate" else {})}} if "xpt" in formats else {}),
            "sites": "all" if site_ids is None else sorted(site_ids),
            "datasets": rows,
            "notes": notes,
            "files": [{"path": str(p.relative_to(directory)), "sha256": _sha256(p),
                       "bytes": p.stat().st_size} for p in sorted(files)],
        }
        manifest_path = directory / "manifest.json"
        manifest_path.write_text(fmt.manifest_text(manifest), encoding="utf-8")
        step("manifest")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    bundle = ExportBundle(created_by_id=actor.user_id, created_by=actor.name, snapshot_id=snapshot.id,
                          formats=formats, directory=str(directory.resolve()),
                          manifest_sha256=_sha256(manifest_path))
    session.add(bundle)
    session.flush()
    audit.record(session, actor, audit.Entry(
        action="export", entity="export_bundle", entity_id=bundle.id,
        changes={"snapshot_id": [None, snapshot.id], "content_hash": [None, snapshot.content_hash],
                 "formats": [None, formats], "manifest_sha256": [None, bundle.manifest_sha256],
                 **({"xpt_ascii": [None, xpt_ascii]} if "xpt" in formats else {}),
                 "settings_hash": [None, settings.settings_hash], "rows": [None, rows]},
        reason="analysis datasets export",
    ))
    return ExportResult(bundle.id, directory, manifest, snapshot.id)


def zip_bundle(directory: Path, target: Path) -> Path:
    """The bundle as one zip file (for downloads)."""
    archive = shutil.make_archive(str(target.with_suffix("")), "zip", root_dir=directory)
    return Path(archive)
