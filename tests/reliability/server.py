"""A real trialdb server in a subprocess (gunicorn on loopback), and a
signed-in HTTP client for it. Shared by the fault tests and bench/load_test.py."""

from __future__ import annotations

import functools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@functools.cache
def _no_control_socket() -> list[str]:
    """Recent gunicorn opens a control socket at a fixed path shared by every
    instance; servers started side by side must not fight over it."""
    usage = subprocess.run([sys.executable, "-m", "gunicorn", "--help"], capture_output=True,
                           text=True, timeout=60).stdout
    return ["--no-control-socket"] if "--no-control-socket" in usage else []


class Server:
    """gunicorn serving `create_app()` for `database_url`, in its own process group."""

    def __init__(self, database_url: str, instance: Path, *, workers: int = 2,
                 threads: int = 4, port: int | None = None) -> None:
        self.database_url = database_url
        self.instance = instance
        self.workers = workers
        self.threads = threads
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = instance / f"gunicorn-{self.port}.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(TRIALDB_DATABASE_URL=self.database_url, TRIALDB_INSTANCE_PATH=str(self.instance),
                   TRIALDB_SECRET_KEY="reliability-test-secret", TRIALDB_PASSWORD_HASHING="fast",
                   PYTHONPATH=str(ROOT))
        return env

    def start(self, timeout: float = 30) -> None:
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                   "--workers", str(self.workers), "--threads", str(self.threads),
                   "--timeout", "60", "--graceful-timeout", "5", *_no_control_socket(),
                   "trialdb.web:create_app()"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, env=self.env(), cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.base}/login", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the master and its workers at once: no clean-up of any kind."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class Client:
    """A member of staff's browser: a cookie jar, CSRF tokens read from pages."""

    def __init__(self, base: str, timeout: float = 30) -> None:
        self.base = base
        self.http = requests.Session()
        self.timeout = timeout
        self.token = ""

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, timeout=self.timeout, allow_redirects=False)

    def refresh_token(self, path: str = "/") -> None:
        match = _TOKEN.search(self.get(path).text)
        if match is None:
            raise RuntimeError(f"no CSRF token on {path}")
        self.token = match.group(1) or match.group(2)

    def post(self, path: str, data: dict[str, str] | list[tuple[str, str]]) -> requests.Response:
        pairs = list(data.items()) if isinstance(data, dict) else list(data)
        return self.http.post(self.base + path, data=[*pairs, ("csrf_token", self.token)],
                              timeout=self.timeout, allow_redirects=False)

    def sign_in(self, email: str, password: str) -> None:
        self.refresh_token("/login")
        response = self.post("/login", {"email": email, "password": password})
        if response.status_code != 302:
            raise RuntimeError(f"sign-in failed: {response.status_code}")
        self.refresh_token("/")
