"""Instructions per request in the application's process, counted by valgrind.

Wall-clock figures on a shared machine drift by 2-3x within minutes (see
bench/web.py), so a change worth a few per cent of CPU cannot be seen there.
Callgrind counts executed instructions instead: the same code, data and
interpreter give the same count to within about 1 %, whatever else runs.

In one process, calling the WSGI application as a server does, it counts
  * a CRF save (the request bench/web.py loads: a new lymphocyte/IgG record),
  * a bare Flask request (bench/web.py's baseline),
and prints their ratio. Not counted: the HTTP server (gunicorn), the load
generator and the database server's own work (PostgreSQL runs in its own
processes). So this is for comparing versions of the application's code; the
issue's throughput targets are measured by bench/web.py.

    python bench/instructions.py                          # PostgreSQL
    python bench/instructions.py --db sqlite --requests 100

Needs valgrind (Debian's package). About a minute per count.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import web as web_bench  # noqa: E402 - bench/web.py, after the path set-up
from werkzeug.test import EnvironBuilder  # noqa: E402

from trialdb.scratch import empty_database  # noqa: E402

WARM_UP = 30  # requests before counting: first statements, caches, prepared statements


def _instrument(on: bool) -> None:
    """Switch callgrind's counting for this process (it runs under valgrind)."""
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                   check=True, capture_output=True)


def _csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if match is None:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def _call(app: Callable[..., Iterable[bytes]], environ: dict[str, Any], body: bytes) -> str:
    """One request straight through the WSGI interface, as a server makes it."""
    status: list[str] = []
    environ = {**environ, "wsgi.input": io.BytesIO(body)}
    answer = app(environ, lambda line, headers, exc_info=None: status.append(line))
    for _ in answer:
        pass
    getattr(answer, "close", lambda: None)()
    return status[0]


def _requests(kind: str, setup: dict[str, Any],
              total: int) -> tuple[Callable[..., Iterable[bytes]], list[tuple[dict[str, Any], bytes]], str]:
    """The application, `total` requests (WSGI environ and body) and the status expected.
    Built before counting: building a request is the client's work, not the server's."""
    if kind == "bare":
        ping = EnvironBuilder(path="/ping").get_environ()
        return web_bench.bare_app(), [(ping, b"")] * total, "200 OK"
    os.environ.update({key: str(value) for key, value in setup["env"].items()})
    from trialdb.web import create_app

    app = create_app()
    client = app.test_client()
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    signed_in = client.post("/login", data={"email": setup["email"], "csrf_token": token,
                                            "password": web_bench.PASSWORD})
    if signed_in.status_code != 302:
        raise RuntimeError(f"sign-in failed ({signed_in.status_code})")
    numbers: list[str] = setup["numbers"]
    token = _csrf_token(client.get(f"/participants/{numbers[0]}").get_data(as_text=True))
    cookie = client.get_cookie("session")
    if cookie is None:
        raise RuntimeError("no session cookie after sign-in")
    measured_on = (date.today() - timedelta(days=1)).isoformat()
    built = []
    for n in range(total):
        body = urlencode({"csrf_token": token, "measured_on": measured_on,
                          "lymphocytes_per_ul": str(300 + n), "igg_g_per_l": "6,5"})
        environ = EnvironBuilder(
            path=f"/participants/{numbers[n % len(numbers)]}/forms/immune_measurements/new",
            method="POST", content_type="application/x-www-form-urlencoded",
            headers=[("Cookie", f"session={cookie.value}")], data=body).get_environ()
        built.append((environ, body.encode()))
    return app, built, "302 FOUND"


def child(kind: str, setup: dict[str, Any], requests: int) -> None:
    """Runs under valgrind: warm up, then count `requests` requests of `kind`."""
    app, built, expected = _requests(kind, setup, WARM_UP + requests)
    for number, (environ, body) in enumerate(built):
        if number == WARM_UP:
            _instrument(True)
        if _call(app, environ, body) != expected:
            raise RuntimeError(f"{kind} request {number} failed")
    _instrument(False)


def count(kind: str, setup_file: Path, requests: int, folder: Path) -> int:
    """Instructions per request of `kind`, counted in a child under valgrind."""
    log = folder / f"{kind}.log"
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
               f"--callgrind-out-file={folder / f'{kind}.callgrind'}", f"--log-file={log}",
               sys.executable, __file__, "--child", kind, "--setup", str(setup_file),
               "--requests", str(requests)]
    subprocess.run(command, check=True, cwd=ROOT)
    collected = re.search(r"Collected : (\d+)", log.read_text())
    if collected is None:
        raise RuntimeError(f"valgrind counted nothing: see {log}")
    return int(collected.group(1)) // requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql", choices=["sqlite", "postgresql"])
    parser.add_argument("--requests", type=int, default=60, help="counted requests of each kind")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--child", choices=["save", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--setup", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.setup.read_text()), args.requests)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    folder = Path(tempfile.mkdtemp(prefix="trialdb-instructions-"))
    try:
        with empty_database(args.db, folder) as url:
            print(f"[{args.db}] populating a site with {args.participants} participants...",
                  flush=True)
            email, numbers = web_bench.populate(url, args.participants)
            setup_file = folder / "setup.json"
            setup_file.write_text(json.dumps({
                "email": email, "numbers": numbers,
                "env": {"TRIALDB_DATABASE_URL": url, "TRIALDB_INSTANCE_PATH": str(folder),
                        "TRIALDB_SECRET_KEY": uuid.uuid4().hex,
                        "TRIALDB_SESSION_IDLE_MINUTES": "60"}}))
            save = count("save", setup_file, args.requests, folder)
            bare = count("bare", setup_file, args.requests, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.db}: CRF save {save:,} instructions per request; bare Flask {bare:,}; "
          f"save / bare {save / bare:.1f} (application process only)")


if __name__ == "__main__":
    main()
