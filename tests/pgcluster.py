"""A throwaway PostgreSQL server for tests: one per process, in a temp dir, root-safe.

Each pytest-xdist worker starts its own cluster (own port, own data dir), so tests never
share a server with another worker or with a developer's database. initdb and postgres
refuse to run as root, and CI runs as root: then they run as the ``postgres`` system user
(created by Debian's ``postgresql`` package) through ``runuser``.

Check by hand: ``python -m tests.pgcluster``.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import glob
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import psycopg
from psycopg import sql

SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
RUN_AS = "postgres"  # the system user the server runs as when we are root
START_TIMEOUT = 30.0  # seconds, for pg_ctl start and then for the first connection
PORT_ATTEMPTS = 5  # a free port can be taken by another worker before postgres binds it
# Durability is worthless for a cluster deleted after the run; these make writes cheap.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
}
# Where a test cluster keeps its data: a database made there costs 20 ms, not the 60 to
# 300 ms the copy of its 7 MB takes on a virtual machine's disk.
MEMORY_DIR = "/dev/shm"
MEMORY_NEEDED = 1 << 30  # a container's 64 MB /dev/shm would fill: the disk, then
# What postgres logs when another process got the port first: worth another port.
PORT_TAKEN = re.compile(r"Address already in use|could not create any TCP/IP sockets")

_database_numbers = itertools.count(1)


def _has_server(bindir: str | Path) -> bool:
    return all(os.access(Path(bindir, name), os.X_OK) for name in SERVER_PROGRAMS)


def _version_key(bindir: str) -> tuple[int, ...]:
    """/usr/lib/postgresql/15/bin → (15,), so that 15 sorts above 9.6."""
    version = Path(bindir).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


@functools.cache
def _bindir() -> Path | None:
    """Where initdb, pg_ctl and postgres are: pg_config's bindir, else Debian's newest
    /usr/lib/postgresql/*/bin, else PATH. pg_config can belong to a libpq without a
    server (libpq-dev), hence the check of each candidate."""
    candidates: list[str] = []
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10
            )
            if done.returncode == 0:
                candidates.append(done.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(initdb).parent))
    return next((Path(c) for c in candidates if c and _has_server(c)), None)


def _as_root() -> bool:
    return os.geteuid() == 0


def unavailable() -> str | None:
    """None when a server can be started here; else the reason in one line (for a skip)."""
    if _bindir() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl, postgres): install postgresql"
    if _as_root():
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root and there is no {RUN_AS!r} user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and runuser (util-linux) is missing"
    return None


def _free_port() -> int:
    """A port nobody listens on now; another process may still take it before we do."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _base_dir(in_memory: bool) -> str:
    """The system temp dir, unless the server user cannot reach it (a TMPDIR under /root)
    or it is too long for a unix socket path (about 100 bytes): then /tmp. ``in_memory``:
    /dev/shm where there is one with room, as the server user may write there."""
    if (
        in_memory
        and os.access(MEMORY_DIR, os.W_OK)
        and os.stat(MEMORY_DIR).st_mode & 0o002
        and shutil.disk_usage(MEMORY_DIR).free >= MEMORY_NEEDED
    ):
        return MEMORY_DIR
    base = tempfile.gettempdir()
    if len(base) > 60:
        return "/tmp"
    if _as_root():
        for parent in (Path(base), *Path(base).parents):
            if not parent.stat().st_mode & 0o001:  # "other" may not traverse it
                return "/tmp"
    return base


def _conf_value(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _tail(path: Path, lines: int = 30, offset: int = 0) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
    except OSError as error:
        return f"(no server log: {error})"
    return "\n".join(text.splitlines()[-lines:])


class PgCluster:
    """A running server on 127.0.0.1 and a free port, superuser ``postgres``, trust auth.

    ``stop()`` when done; it is also registered with atexit so that a worker that never
    reaches its teardown does not leave a server behind."""

    url: str  # postgresql://postgres@127.0.0.1:PORT/postgres
    port: int
    timings: dict[str, float]  # seconds: "initdb", "start"

    def __init__(self, *, in_memory: bool = False) -> None:
        """``in_memory``: the data in /dev/shm where there is one (tests; a benchmark
        keeps its server on disk, as a server is)."""
        if reason := unavailable():
            raise RuntimeError(f"cannot start PostgreSQL: {reason}")
        bindir = _bindir()
        assert bindir is not None  # unavailable() checked it
        self._bindir = bindir
        self._owner_pid = os.getpid()  # a forked child must not stop its parent's server
        self._stopped = False
        self._root = Path(tempfile.mkdtemp(prefix="pgcluster-", dir=_base_dir(in_memory)))
        self._data = self._root / "data"
        self._log = self._root / "server.log"
        self.timings = {}
        atexit.register(self.stop)
        try:
            if _as_root():
                user = pwd.getpwnam(RUN_AS)
                os.chown(self._root, user.pw_uid, user.pw_gid)
            self._initdb()
            self._start()
        except BaseException:
            self.stop()
            raise

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A server program, as the server user when we are root."""
        command = [str(self._bindir / args[0]), *args[1:]]
        if _as_root():
            command = ["runuser", "-u", RUN_AS, "--", *command]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"  # messages we can match, whatever the machine's language
        return subprocess.run(
            command,
            cwd=self._root,  # the server user may not be able to enter ours
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def _initdb(self) -> None:
        began = time.monotonic()
        done = self._run(
            "initdb",
            "-D",
            str(self._data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--encoding=UTF8",
            "--locale=C.UTF-8",  # as servers are made: Unicode case folding, byte order
            "--no-sync",
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        settings = {**SETTINGS, "unix_socket_directories": str(self._root)}
        # Appended as the last lines, so they win over initdb's; the file keeps its owner.
        with (self._data / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/pgcluster.py\n")
            conf.writelines(f"{key} = {_conf_value(v)}\n" for key, v in settings.items())
        self.timings["initdb"] = time.monotonic() - began

    def _start(self) -> None:
        """pg_ctl start on a free port, another port when one was taken meanwhile, then
        wait until a connection succeeds."""
        began = time.monotonic()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = _free_port()
            log_start = self._log.stat().st_size if self._log.exists() else 0
            done = self._run(
                "pg_ctl",
                "start",
                "-D",
                str(self._data),
                "-l",
                str(self._log),
                "-o",
                f"-p {self.port}",
                "-w",
                "-t",
                str(int(START_TIMEOUT)),
                timeout=START_TIMEOUT + 10,
            )
            if done.returncode == 0:
                break
            log = _tail(self._log, offset=log_start)
            if attempt < PORT_ATTEMPTS and PORT_TAKEN.search(log):
                continue
            raise RuntimeError(
                f"pg_ctl start failed ({done.returncode}) on port {self.port}:\n"
                f"{done.stdout}{done.stderr}\n--- server log (tail) ---\n{log}"
            )
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._wait_for_connection()
        self.timings["start"] = time.monotonic() - began

    def _wait_for_connection(self) -> None:
        """pg_ctl -w saw the server ready; this also proves TCP and trust auth work."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL on port {self.port} accepts no connection: {error}\n"
                        f"--- server log (tail) ---\n{_tail(self._log)}"
                    ) from error
                time.sleep(0.1)

    def new_database(
        self, name: str | None = None, *, local: bool = False, template: str | None = None
    ) -> str:
        """CREATE DATABASE (a unique name when None) and its URL: one a test or a module
        keeps tests from seeing each other's rows without a new cluster each. ``local``:
        through the server's unix socket, as a bot on the database's own machine would
        connect (TCP otherwise, as from another machine). ``template``: a copy of that
        database (one with the schema made: a test then does not make it again)."""
        if name is None:
            name = f"t_{next(_database_numbers)}_{os.getpid()}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(statement)
        quoted = urllib.parse.quote(name, safe="")
        if local:
            socket_dir = urllib.parse.quote(str(self._root), safe="")
            return f"postgresql://postgres@/{quoted}?host={socket_dir}&port={self.port}"
        return f"postgresql://postgres@127.0.0.1:{self.port}/{quoted}"

    def drop_database(self, url: str) -> None:
        """DROP DATABASE, ending its sessions (a test's bot may still hold one)."""
        name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.lstrip("/"))
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def stop(self) -> None:
        """Stop the server at once (no checkpoint: the data is thrown away) and delete the
        temp dir. Idempotent and never raises, so that atexit and teardown may both call
        it; does nothing in a forked child."""
        if self._stopped or os.getpid() != self._owner_pid:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        if (self._data / "postmaster.pid").exists():
            try:
                done = self._run("pg_ctl", "stop", "-D", str(self._data), "-m", "immediate")
                stopped = done.returncode == 0
            except (OSError, subprocess.SubprocessError):
                stopped = False
            if not stopped:
                self._kill_postmaster()
        shutil.rmtree(self._root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        """SIGQUIT, what -m immediate sends, straight to the pid pg_ctl could not stop."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self._data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGQUIT)


def _main() -> None:
    """Start a cluster, use it as the tests do, print how long each step took."""
    if reason := unavailable():
        raise SystemExit(f"unavailable: {reason}")
    began = time.monotonic()
    cluster = PgCluster()
    try:
        before = time.monotonic()
        url = cluster.new_database()
        created = time.monotonic() - before
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT version()").fetchone()
            conn.execute("CREATE EXTENSION pg_trgm")
            similarity = conn.execute("SELECT similarity('notice', 'notices')").fetchone()
        print(f"pid {os.getpid()} {cluster.url} (bindir {cluster._bindir})")
        print(f"  {row[0] if row else None}")
        print(f"  database {url}, pg_trgm similarity {similarity[0] if similarity else None}")
        print(
            f"  initdb {cluster.timings['initdb']:.2f} s, start {cluster.timings['start']:.2f} s,"
            f" new_database {created:.3f} s, total {time.monotonic() - began:.2f} s"
        )
    finally:
        cluster.stop()


if __name__ == "__main__":
    _main()
