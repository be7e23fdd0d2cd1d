"""A queue for SQLite's writers, across the threads and processes of one machine.

SQLite lets one writer in at a time. A writer that finds the lock taken
sleeps in SQLite's busy handler, in steps that grow to 100 ms, and is not
woken when the lock frees: under a burst of saves a few unlucky ones wait
ten times longer than the others. Writers therefore queue here first, on a
thread lock and then on an advisory lock on a file beside the database,
checked every millisecond or two, and only then take SQLite's own lock,
which is free by then unless a program outside trialdb holds it (the busy
timeout still covers that case).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from typing import Any

#: Longest pause between two looks at the file lock, in seconds.
_LONGEST_PAUSE = 0.002


class WriterQueue:
    """The queue of one database file."""

    def __init__(self, database: str) -> None:
        self._path = f"{database}-writers.lock"
        self._in_process = threading.Lock()
        self._file: int | None = None
        self._owner_pid = 0

    def _descriptor(self) -> int:
        # A forked worker must not share its parent's open file: flock locks
        # belong to the open file, so parent and child would never exclude each other.
        if self._file is None or self._owner_pid != os.getpid():
            self._file = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._owner_pid = os.getpid()
        return self._file

    def enter(self, timeout: float) -> None:
        """Wait for this writer's turn; `database is locked` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        if not self._in_process.acquire(timeout=max(timeout, 0.0)):
            raise sqlite3.OperationalError("database is locked")
        try:
            descriptor = self._descriptor()
            pause = 0.0005
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise sqlite3.OperationalError("database is locked") from None
                    time.sleep(pause)
                    pause = min(pause * 2, _LONGEST_PAUSE)
        except BaseException:
            self._in_process.release()
            raise

    def leave(self) -> None:
        try:
            fcntl.flock(self._descriptor(), fcntl.LOCK_UN)
        finally:
            self._in_process.release()


_queues: dict[str, WriterQueue] = {}
_queues_lock = threading.Lock()


def queue_for(database: str) -> WriterQueue:
    """The one queue of this process for a database file."""
    key = os.path.realpath(database)
    with _queues_lock:
        return _queues.setdefault(key, WriterQueue(key))


class QueuedConnection(sqlite3.Connection):
    """A pysqlite connection that leaves the writers' queue when its write
    transaction ends, however it ends (commit, rollback, close)."""

    writer_queue: WriterQueue | None = None
    busy_timeout = 30.0
    _in_queue = False

    def wait_turn(self) -> None:
        """Wait for this writer's turn; the turn ends with the transaction."""
        if self.writer_queue is not None and not self._in_queue:
            self.writer_queue.enter(self.busy_timeout)
            self._in_queue = True

    def leave_queue(self) -> None:
        if self._in_queue and self.writer_queue is not None:
            self._in_queue = False
            self.writer_queue.leave()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_queue()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_queue()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave_queue()


def attach(dbapi_connection: Any, database: str, timeout: float) -> None:
    """Give a new connection its database's queue (file databases only)."""
    if isinstance(dbapi_connection, QueuedConnection) and database not in ("", ":memory:"):
        dbapi_connection.writer_queue = queue_for(database)
        dbapi_connection.busy_timeout = timeout
