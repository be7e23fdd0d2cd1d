"""Benchmark: exports by format and the laboratory import, against plain baselines.

Usage::

    python bench/exports.py [--participants 10000] [--results 30] [--lab-rows 100000]
                            [--workdir DIR [--reuse]] [--formats csv,parquet,...]
                            [--rounds 3] [--import-from OTHER_CHECKOUT]

Steps (each measurement runs in a fresh Python process, so its peak memory,
``ru_maxrss``, is its own):

1. A SQLite database with ``--participants`` included participants (10
   sites; consent, infusion, clinical course, follow-up) and about
   ``--results`` viral-load results each (CMV and TTV, all three states),
   inserted in bulk. The data are frozen into a snapshot
   (:func:`trialdb.services.snapshots.freeze`, timed) and the frozen
   database, as :func:`~trialdb.services.snapshots.open_snapshot` rebuilds
   it, is saved to a file so that every worker reads the same frozen rows.
2. For each format (csv, parquet, xpt, dta, sav, odm): the whole export,
   all datasets built then written. And the same-rows comparison: the
   ``viral_loads`` dataset built and written as CSV by trialdb, against
   ``pandas.read_sql("SELECT * FROM viral_load_result ...").to_csv(...)``
   of the same rows, in the same worker (target: trialdb at most 2x).
3. Laboratory import of a ``--lab-rows`` CSV file (``;``, French dates and
   numbers) committed through :func:`trialdb.services.lab_import.import_lab_file`
   (one result row and one hash-chained audit row per new result), against
   two raw ``sqlite3`` ``executemany`` baselines on the same rows, with the
   connection settings trialdb uses (WAL, foreign keys on, synchronous=NORMAL):

   * *results only*: the results table alone, the floor the issue names
     (target: the import at most 3x);
   * *like for like*: the same rows the import writes, results and one audit
     row each (changes as JSON text, SHA-256 chain), with minimal Python.

   Each contender runs ``--rounds`` times, the rounds interleaved, each in a
   fresh process on a fresh copy of the database; the best wall-clock and the
   best CPU time (``time.process_time``: SQLite works in-process, so this is
   the work done, less sensitive to a loaded machine) are compared. The
   import's peak memory is also measured for a file ten times smaller (memory
   must not grow with the file). ``--import-from DIR`` adds the import of
   another checkout (e.g. ``git archive`` of an earlier commit) to the same
   rounds, for a before/after comparison in the same conditions.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

D0_FIRST = date(2024, 1, 8)


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: reset by exec, unlike ru_maxrss,
    which a worker would inherit from a parent that had grown large)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- data -------------------------------------------------------------------------------------------


def build_database(path: Path, participants: int, results: int, seed: int = 7) -> dict[str, Any]:
    from sqlalchemy import insert

    from trialdb import migrate
    from trialdb.db import make_engine
    from trialdb.models import (
        Assay,
        CarTInfusion,
        ClinicalCourse,
        ConsentRecord,
        FollowUp,
        Participant,
        Site,
        ViralLoadResult,
    )

    rng = random.Random(seed)
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    sites = [f"S{n:02d}" for n in range(1, 11)]
    per_site = -(-participants // len(sites))
    with engine.begin() as connection:
        connection.execute(insert(Site), [{"id": i + 1, "code": code, "name": f"Centre {code}"}
                                          for i, code in enumerate(sites)])
        connection.execute(insert(Assay), [
            {"id": 1, "name": "CMV plasma (bench)", "virus": "CMV", "specimen": "plasma",
             "unit": "IU/mL", "limit_of_detection": 21, "lloq": 35, "copies_per_iu": 1.1},
            {"id": 2, "name": "TTV plasma (bench)", "virus": "TTV", "specimen": "plasma",
             "unit": "copies/mL", "limit_of_detection": 100, "lloq": 250, "copies_per_iu": None},
        ])
        people, consents, infusions, clinical, follow = [], [], [], [], []
        loads: list[dict[str, Any]] = []
        for pid in range(1, participants + 1):
            site = (pid - 1) // per_site
            d0 = D0_FIRST + timedelta(days=rng.randrange(0, 700))
            people.append({"id": pid, "site_id": site + 1, "study_number": f"{sites[site]}-{pid:04d}"[:11],
                           "part": rng.choice(["retrospective", "prospective"]),
                           "sex": rng.choice(["female", "male"]), "birth_year": rng.randrange(1945, 2015),
                           "birth_month": rng.randrange(1, 13), "status": "included",
                           "screened_on": d0 - timedelta(days=20), "included_on": d0 - timedelta(days=10)})
            consents.append({"participant_id": pid, "regime": "consent", "document_version": "v1",
                             "consent_on": d0 - timedelta(days=15), "is_valid": True,
                             "only_one_parent_alive": False})
            infusions.append({"participant_id": pid, "infused_on": d0, "product": "tisagenlecleucel",
                              "target_antigen": "CD19", "disease": rng.choice(["ALL", "LBCL"]),
                              "disease_status": "progressive", "prior_lines": rng.randrange(1, 5),
                              "prior_allo_hsct": False, "bridging_therapy": True,
                              "lymphodepletion": "flu_cy"})
            clinical.append({"participant_id": pid, "crs_grade": rng.randrange(0, 3), "icans_grade": 0,
                             "tocilizumab": False, "ivig": False})
            follow.append({"participant_id": pid, "last_contact_on": d0 + timedelta(days=120),
                           "icu_admission": False, "lost_to_follow_up": False})
            for k in range(results):
                virus = "CMV" if k % 2 == 0 else "TTV"
                day = -3 + (k // 2) * 7
                state = rng.choices(["not_detected", "below_lloq", "quantified"], [5, 2, 3])[0]
                value = round(10 ** rng.uniform(2.5, 5.5)) if state == "quantified" else None
                printed = str(value) if value else ("ND" if state == "not_detected" else "<35")
                loads.append({"participant_id": pid, "virus": virus, "specimen": "plasma",
                              "sampled_on": d0 + timedelta(days=day),
                              "assay_id": 1 if virus == "CMV" else 2, "state": state, "value": value,
                              "unit": "IU/mL" if virus == "CMV" else "copies/mL", "reported_as": printed,
                              "is_complete": True})
        for model, rows in ((Participant, people), (ConsentRecord, consents), (CarTInfusion, infusions),
                            (ClinicalCourse, clinical), (FollowUp, follow), (ViralLoadResult, loads)):
            connection.execute(insert(model), rows)
    engine.dispose()
    return {"participants": participants, "results": len(loads)}


def freeze_to_file(database: Path, frozen_file: Path) -> dict[str, Any]:
    from trialdb.db import make_engine, make_session_factory, unit_of_work
    from trialdb.services import snapshots
    from trialdb.services.actor import Actor

    engine = make_engine(f"sqlite:///{database}")
    started = time.perf_counter()
    with unit_of_work(make_session_factory(engine)) as session:
        snapshot = snapshots.freeze(session, Actor.system("bench"), "bench")
        snapshot_id = snapshot.id
    frozen_at = time.perf_counter()
    with make_session_factory(engine, write=False)() as session, \
            snapshots.open_snapshot(session, snapshot_id) as frozen:
        opened_at = time.perf_counter()
        raw = frozen.connection().connection.dbapi_connection
        target = sqlite3.connect(frozen_file)
        raw.backup(target)
        target.close()
    engine.dispose()
    return {"freeze_s": frozen_at - started, "open_snapshot_s": opened_at - frozen_at}


# --- workers (one per measurement) -------------------------------------------------------------------


def _frozen_session(frozen_file: Path) -> Any:
    from trialdb.db import make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{frozen_file}")
    return make_session_factory(engine, write=False)()


def worker_format(frozen_file: Path, fmt: str, out: Path) -> dict[str, Any]:
    from trialdb.exports import formats
    from trialdb.exports.datasets import build_all
    from trialdb.exports.odm import write_odm
    from trialdb.exports.scanner import scan
    from trialdb.study.endpoint_settings import load_endpoint_settings

    session = _frozen_session(frozen_file)
    settings = load_endpoint_settings()
    before = _peak_mb()
    started = time.perf_counter()
    if fmt == "odm":
        write_odm(session, out / "study.odm.xml")
        built_at = started
    else:
        datasets = build_all(session, settings)
        scan(datasets)
        built_at = time.perf_counter()
        if fmt == "xpt":  # the bench data are ASCII; check and write like the bundle does
            for dataset in datasets:
                formats.check_xpt(dataset)
        for dataset in datasets:
            formats.WRITERS[fmt](dataset, out)
    done = time.perf_counter()
    size = sum(p.stat().st_size for p in out.iterdir())
    return {"format": fmt, "build_s": built_at - started, "write_s": done - built_at,
            "total_s": done - started, "peak_mb": _peak_mb(), "peak_mb_before": before,
            "bytes": size}


def worker_same_rows(frozen_file: Path, out: Path) -> dict[str, Any]:
    import pandas as pd

    from trialdb.exports.datasets import build_viral_loads, exported_participants
    from trialdb.exports.formats import write_csv

    session = _frozen_session(frozen_file)
    connection = session.connection()
    started = time.perf_counter()
    frame = pd.read_sql("SELECT * FROM viral_load_result WHERE is_deleted = 0 ORDER BY id", connection)
    frame.to_csv(out / "baseline.csv", index=False)
    baseline = time.perf_counter() - started
    rows = len(frame)
    del frame
    started = time.perf_counter()
    people = exported_participants(session)
    dataset = build_viral_loads(session, people)
    write_csv(dataset, out)
    ours = time.perf_counter() - started
    return {"rows": rows, "exported_rows": len(dataset.frame), "baseline_s": baseline, "trialdb_s": ours,
            "ratio": ours / baseline, "peak_mb": _peak_mb()}


def worker_import(database: Path, lab_file: Path, code_root: Path | None = None) -> dict[str, Any]:
    if code_root is not None:  # another checkout's trialdb (before/after comparison)
        sys.path.insert(0, str(code_root))
    import trialdb
    from trialdb.db import make_engine, make_session_factory, unit_of_work
    from trialdb.services import lab_import
    from trialdb.services.actor import Actor

    engine = make_engine(f"sqlite:///{database}")
    before = _peak_mb()
    started, cpu = time.perf_counter(), time.process_time()
    with unit_of_work(make_session_factory(engine)) as session, lab_file.open("rb") as stream:
        summary = lab_import.import_lab_file(session, Actor.system("bench"), stream,
                                             file_name=lab_file.name, today=date(2030, 1, 1))
    engine.dispose()  # closing runs SQLite's last checkpoint: timed, as the baselines' close is
    elapsed, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return {"rows": summary.rows_total, "new": summary.counts[lab_import.RowKind.NEW],
            "committed": summary.committed, "seconds": elapsed, "cpu_seconds": cpu_seconds,
            "peak_mb": _peak_mb(), "peak_mb_before": before, "code": str(Path(trialdb.__file__).parent)}


def _raw_connection(database: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with the settings trialdb's engine gives its own."""
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def _raw_rows(lab_file: Path) -> list[tuple[Any, ...]]:
    """The file's rows parsed with the least work the bench file allows."""
    import csv

    with lab_file.open(encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=";")
        next(reader)
        rows = []
        for number, _virus, _specimen, sampled, result, _unit, _assay in reader:
            pid = int(number.split("-")[1])
            day, month, year = sampled.split("/")
            value = float(result.replace(",", ".")) if result[0].isdigit() else None
            state = "quantified" if value else "not_detected"
            rows.append((number, pid, f"{year}-{month}-{day}", state, value, result))
    return rows


_RAW_RESULT_INSERT = (
    "INSERT INTO viral_load_result (id, participant_id, virus, specimen, sampled_on, assay_id, state, value,"
    " unit, reported_as, row_version, is_complete, is_deleted, created_at, updated_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")


def worker_executemany(database: Path, lab_file: Path, with_audit: str = "no") -> dict[str, Any]:
    """The floor: the same rows, already parsed by csv, inserted with one executemany.

    With `with_audit` "yes", each result also gets its audit row as the import
    writes it (same columns; changes as JSON text; SHA-256 over the row's text
    and the previous row's hash), inserted with a second executemany.
    """
    import hashlib

    started, cpu = time.perf_counter(), time.process_time()
    connection = _raw_connection(database)
    now = "2030-01-01 00:00:00.000000"
    parsed = _raw_rows(lab_file)
    first = (connection.execute("SELECT max(id) FROM viral_load_result").fetchone()[0] or 0) + 1
    connection.executemany(_RAW_RESULT_INSERT, [
        (rid, pid, "CMV", "plasma", sampled, 1, state, value, "IU/mL", result, 1, 1, 0, now, now)
        for rid, (_number, pid, sampled, state, value, result) in enumerate(parsed, first)])
    audited = 0
    if with_audit == "yes":
        tip = connection.execute("SELECT row_hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
        previous = tip[0] if tip else "0" * 64
        events = []
        for rid, (number, _pid, sampled, state, value, result) in enumerate(parsed, first):
            shown = "" if value is None else f',"value":[null,{value!r}]'
            changes = (f'{{"assay_id":[null,1],"is_complete":[null,true],"reported_as":[null,"{result}"],'
                       f'"sampled_on":[null,"{sampled}"],"specimen":[null,"plasma"],'
                       f'"state":[null,"{state}"],"unit":[null,"IU/mL"]{shown},"virus":[null,"CMV"]}}')
            reason = f"laboratory import, line {rid - first + 2}"
            text = (f"{now}|bench|{number[:3]}|create|viral_load_result|{rid}|{number}|{changes}|"
                    f"{reason}|{previous}")
            row_hash = hashlib.sha256(text.encode()).hexdigest()
            events.append((now, "bench", number[:3], "create", "viral_load_result", rid, number, changes,
                           reason, previous, row_hash))
            previous = row_hash
        connection.executemany(
            "INSERT INTO audit_event (occurred_at, user_name, site_code, action, entity, entity_id,"
            " study_number, changes, reason, previous_hash, row_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            events)
        audited = len(events)
    connection.commit()
    connection.close()
    return {"rows": len(parsed), "audit_rows": audited, "seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu, "peak_mb": _peak_mb()}


def write_lab_file(path: Path, participants: int, rows: int, seed: int = 11) -> None:
    """A laboratory file in the French way: ';', dd/mm/yyyy, decimal commas, ND."""
    rng = random.Random(seed)
    first = date(2028, 1, 1)
    with path.open("w", encoding="utf-8") as handle:
        handle.write("study_number;virus;specimen;sampled_on;result;unit;assay\n")
        sites = [f"S{n:02d}" for n in range(1, 11)]
        per_site = -(-participants // len(sites))
        for i in range(rows):
            pid = i % participants + 1
            day = first + timedelta(days=i // participants)
            number = f"{sites[(pid - 1) // per_site]}-{pid:04d}"
            result = "ND" if rng.random() < 0.5 else f"{rng.uniform(1.0, 9.9):.1f}".replace(".", ",") + "E+03"
            handle.write(f"{number};CMV;plasma;{day:%d/%m/%Y};{result};UI/mL;CMV plasma (bench)\n")


# --- orchestration ------------------------------------------------------------------------------------


def _run(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--worker", *args], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--results", type=int, default=30)
    parser.add_argument("--lab-rows", type=int, default=100_000)
    parser.add_argument("--formats", default="csv,parquet,xpt,dta,sav,odm")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--reuse", action="store_true",
                        help="Keep the database and frozen snapshot already in --workdir.")
    parser.add_argument("--rounds", type=int, default=3,
                        help="Interleaved rounds of the import and its baselines (best kept).")
    parser.add_argument("--import-from", type=Path,
                        help="Also time the import of another checkout's trialdb (before/after).")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        kind, *args = options.worker
        paths = [Path(a) for a in args]
        result = {"format": lambda: worker_format(paths[0], args[1], paths[2]),
                  "same_rows": lambda: worker_same_rows(paths[0], paths[1]),
                  "import": lambda: worker_import(paths[0], paths[1], *paths[2:]),
                  "executemany": lambda: worker_executemany(paths[0], paths[1], args[2])}[kind]()
        print(json.dumps(result))
        return

    work = options.workdir or Path(tempfile.mkdtemp(prefix="trialdb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    database, frozen = work / "bench.sqlite3", work / "frozen.sqlite3"
    if not (options.reuse and database.exists() and frozen.exists()):
        for path in (database, frozen):
            path.unlink(missing_ok=True)
        started = time.perf_counter()
        sizes = build_database(database, options.participants, options.results)
        print(f"data: {sizes['participants']} participants, {sizes['results']} results "
              f"({time.perf_counter() - started:.1f} s to insert)")
        print("snapshot:", {k: round(v, 2) for k, v in freeze_to_file(database, frozen).items()}, "seconds")

    print("\nexport by format (all datasets; build = datasets from the snapshot, write = files)")
    print(f"{'format':<8} {'build s':>8} {'write s':>8} {'total s':>8} {'peak MB':>8} {'MB':>8}")
    for fmt in [f for f in options.formats.split(",") if f]:
        out = work / f"out-{fmt}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        r = _run("format", str(frozen), fmt, str(out))
        print(f"{fmt:<8} {r['build_s']:>8.2f} {r['write_s']:>8.2f} {r['total_s']:>8.2f} "
              f"{r['peak_mb']:>8.0f} {r['bytes'] / 1e6:>8.1f}")

    out = work / "out-same-rows"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    same = _run("same_rows", str(frozen), str(out))
    verdict = "OK" if same["ratio"] <= 2 else "ABOVE TARGET"
    print(f"\nsame rows ({same['rows']} viral-load results): "
          f"pandas read_sql+to_csv {same['baseline_s']:.2f} s, "
          f"trialdb viral_loads CSV {same['trialdb_s']:.2f} s: {same['ratio']:.2f}x (target <= 2x) {verdict}")

    small_rows = max(options.lab_rows // 10, 1)
    lab_small, lab_big = work / "labs_small.csv", work / "labs_big.csv"
    write_lab_file(lab_small, options.participants, small_rows)
    write_lab_file(lab_big, options.participants, options.lab_rows)
    contenders: list[tuple[str, tuple[str, ...]]] = [
        ("import small", ("import", str(lab_small))), ("import", ("import", str(lab_big))),
        ("results only", ("executemany", str(lab_big), "no")),
        ("like for like", ("executemany", str(lab_big), "yes"))]
    if options.import_from:
        contenders.append(("import (other checkout)",
                           ("import", str(lab_big), str(options.import_from.resolve()))))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in contenders}
    for _round in range(options.rounds):  # interleaved: every contender sees the same load
        for name, (kind, *args) in contenders:
            copy = work / "import-run.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(database, copy)
            runs[name].append(_run(kind, str(copy), *args))

    def best(name: str, key: str) -> float:
        return min(r[key] for r in runs[name])

    imp, small = runs["import"][0], runs["import small"][0]
    print(f"\nlaboratory import of {imp['rows']} rows ({imp['new']} new, committed: {imp['committed']}; "
          f"one audit row per new result), best of {options.rounds} interleaved rounds:")
    print(f"{'':<26} {'wall s':>8} {'CPU s':>8} {'x wall':>8} {'x CPU':>8}")
    for name, _ in contenders:
        print(f"{name:<26} {best(name, 'seconds'):>8.2f} {best(name, 'cpu_seconds'):>8.2f} "
              f"{best(name, 'seconds') / best('results only', 'seconds'):>8.2f} "
              f"{best(name, 'cpu_seconds') / best('results only', 'cpu_seconds'):>8.2f}")
    for baseline in ("results only", "like for like"):
        wall = best("import", "seconds") / best(baseline, "seconds")
        cpu = best("import", "cpu_seconds") / best(baseline, "cpu_seconds")
        print(f"import / {baseline} executemany: {wall:.2f}x wall, {cpu:.2f}x CPU (target <= 3x) "
              f"{'OK' if max(wall, cpu) <= 3 else 'ABOVE TARGET'}")
    print(f"({imp['rows'] / best('import', 'seconds'):.0f} rows/s; "
          f"{best('import', 'seconds') / imp['rows'] * 1e6:.0f} us per row)")
    if options.import_from:
        other = "import (other checkout)"
        print(f"other checkout ({runs[other][0]['code']}) / this one: "
              f"{best(other, 'seconds') / best('import', 'seconds'):.2f}x wall, "
              f"{best(other, 'cpu_seconds') / best('import', 'cpu_seconds'):.2f}x CPU")
    print(f"import peak memory: {max(r['peak_mb'] for r in runs['import small']):.0f} MB for "
          f"{small['rows']} rows, {max(r['peak_mb'] for r in runs['import']):.0f} MB for {imp['rows']} rows "
          f"(process start {imp['peak_mb_before']:.0f} MB)")
    print(f"\nwork folder: {work}")


if __name__ == "__main__":
    main()
