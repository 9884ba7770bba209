"""What a refused command leaves alone: a backup or an export writes over a regular file
only, a file that holds no ledger (empty, or another program's database) is neither made
into one nor upgraded, and every refusal or interruption is one line, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from bot.ledger import Chat, Store
from bot.ledger.errors import LedgerUnusable
from tests.process import BOT_COMMAND, clean_env


def _cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """One command, with a short timeout: a write that blocks (a FIFO) fails the test."""
    return subprocess.run(
        [*BOT_COMMAND, *args],
        cwd=cwd,
        env=clean_env(NOTICEBOT_ARTICLES=str(cwd / "articles")),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=20,
    )


def _said(done: subprocess.CompletedProcess[str]) -> list[str]:
    """What the command said, without the line naming the ledger it was given."""
    assert "Traceback" not in done.stderr, done.stderr
    return [line for line in done.stderr.splitlines() if not line.endswith("(--db)")]


def _ledger(tmp_path: Path) -> Path:
    db = tmp_path / "led.db"
    store = Store(db)
    store.subscribe(Chat(1))
    store.close()
    return db


@contextmanager
def _special(tmp_path: Path, kind: str) -> Iterator[Path]:
    """A device node (a copy of /dev/null's numbers), a FIFO or a socket, in tmp_path."""
    path = tmp_path / kind
    server = None
    if kind == "device":
        try:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device node needs root")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        server = socket.socket(socket.AF_UNIX)
        here = os.getcwd()
        os.chdir(tmp_path)  # a socket's path is short: bind its relative name
        try:
            server.bind(kind)
        finally:
            os.chdir(here)
    try:
        yield path
    finally:
        if server is not None:
            server.close()


def _identity(path: Path) -> tuple[int, int, int, int]:
    info = path.lstat()
    return info.st_mode, info.st_rdev, info.st_ino, info.st_size


@pytest.mark.parametrize("kind", ["device", "fifo", "socket"])
@pytest.mark.parametrize("command", ["backup", "export"])
def test_backup_and_export_write_over_a_regular_file_only(
    tmp_path: Path, kind: str, command: str
) -> None:
    db = _ledger(tmp_path)
    with _special(tmp_path, kind) as target:
        before = _identity(target)
        for force in ([], ["--force"]):
            done = _cli(command, str(target), *force, "--db", str(db), cwd=tmp_path)
            assert done.returncode == 2, done.stderr
            assert done.stdout == ""
            (line,) = _said(done)
            assert line.startswith(f"noticebot {command}: {target} is ")
            assert "not a regular file" in line
            assert _identity(target) == before
        assert not list(tmp_path.glob("*.partial"))


NO_LEDGER = [
    ["status"],
    ["list"],
    ["export"],
    ["backup", "copy.db"],
    ["broadcast", "--cancel", "1"],
    ["scan"],
    ["import", "subs.json"],
]


def _tableless(path: Path) -> None:
    """A database that holds no table (one was made and dropped)."""
    made = sqlite3.connect(path)
    made.execute("CREATE TABLE t (x)")
    made.execute("DROP TABLE t")
    made.commit()
    made.close()


@pytest.mark.parametrize("empty", ["0 bytes", "no tables"])
@pytest.mark.parametrize("command", NO_LEDGER)
def test_an_empty_file_is_no_ledger_and_stays_as_it_is(
    tmp_path: Path, command: list[str], empty: str
) -> None:
    db = tmp_path / "e0.db"
    if empty == "0 bytes":
        db.write_bytes(b"")
    else:
        _tableless(db)
    before = db.read_bytes()
    (tmp_path / "subs.json").write_text(
        json.dumps({"format": "noticebot-subscriptions", "version": 1, "chats": []}), "utf-8"
    )
    done = _cli(*command, "--db", str(db), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    (line,) = _said(done)
    assert line.startswith(f"noticebot: no ledger at {db}: nothing created;"), line
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e0.db", "subs.json"]


def test_an_empty_file_becomes_a_ledger_when_asked(tmp_path: Path) -> None:
    db = tmp_path / "e0.db"
    db.write_bytes(b"")
    (tmp_path / "subs.json").write_text(
        json.dumps({"format": "noticebot-subscriptions", "version": 1, "chats": [{"id": 7}]}),
        "utf-8",
    )
    done = _cli("import", "subs.json", "--create", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [chat.id for chat in Store(db).subscribed_chats()] == [7]


def _foreign(path: Path) -> None:
    made = sqlite3.connect(path)
    made.execute("CREATE TABLE foo (x)")
    made.execute("INSERT INTO foo VALUES (1)")
    made.commit()
    made.close()


@pytest.mark.parametrize(
    "command",
    [*NO_LEDGER, ["scan", "--create"], ["import", "subs.json", "--create"], ["run", "--console"]],
)
def test_another_programs_database_is_refused_and_left_as_it_is(
    tmp_path: Path, command: list[str]
) -> None:
    db = tmp_path / "other.db"
    _foreign(db)
    before = db.read_bytes()
    (tmp_path / "subs.json").write_text(
        json.dumps({"format": "noticebot-subscriptions", "version": 1, "chats": []}), "utf-8"
    )
    done = _cli(*command, "--db", str(db), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert _said(done) == [
        f"noticebot: ledger {db}: not a noticebot ledger (it holds another program's tables: foo)"
    ]
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db", "subs.json"]


def test_the_bot_itself_refuses_another_programs_database(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    _foreign(db)
    before = db.read_bytes()
    with pytest.raises(LedgerUnusable, match="another program's tables: foo"):
        Store(db)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_a_ledger_from_before_schema_versions_is_still_upgraded(tmp_path: Path) -> None:
    """Version 0 with noticebot's own tables is a ledger (older, or cut off while made)."""
    db = _ledger(tmp_path)
    unversioned = sqlite3.connect(db)
    unversioned.execute("PRAGMA user_version=0")
    unversioned.close()
    assert [chat.id for chat in Store(db).subscribed_chats()] == [1]


def test_json_nested_too_deeply_is_one_line(tmp_path: Path) -> None:
    db = _ledger(tmp_path)
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    done = _cli("import", "deep.json", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    (line,) = _said(done)
    assert line.startswith("noticebot import: not JSON")


def _count(db: Path, table: str) -> int:
    """Rows in the ledger's ``table``, read beside the command that writes it."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as ledger:
        return ledger.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _interrupted(
    args: list[str],
    cwd: Path,
    midway: Callable[[], bool],
    *,
    group: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``args`` run, and Ctrl-C'd while ``midway()`` says its work is under way: once it
    has named its ledger (it is past starting up) and ``midway()`` holds, the process is
    frozen, ``midway()`` asked again (a frozen process cannot finish in between), and
    SIGINT sent before it is woken: to its process group, as a terminal sends it, or
    (``group`` false) to the command's process alone. Waiting a fixed time instead let a
    fast machine finish the work first."""
    process = subprocess.Popen(
        [*BOT_COMMAND, *args],
        cwd=cwd,
        env=clean_env(NOTICEBOT_ARTICLES=str(cwd / "articles")),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stderr is not None
    first = process.stderr.readline()
    assert first.endswith("(--db)\n"), first
    deadline = time.monotonic() + 60
    while not midway():
        assert process.poll() is None, "the command ended before its work was seen under way"
        assert time.monotonic() < deadline, "the command's work never got under way"
        time.sleep(0.002)
    os.killpg(process.pid, signal.SIGSTOP)
    try:
        assert midway(), "the command finished its work before it could be interrupted"
        (os.killpg if group else os.kill)(process.pid, signal.SIGINT)
    finally:
        os.killpg(process.pid, signal.SIGCONT)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(args, process.returncode, out, first + err)


def test_ctrl_c_during_an_import_is_one_line_and_imports_nothing(tmp_path: Path) -> None:
    db = _ledger(tmp_path)
    chats = [{"id": n, "title": f"chat {n}", "filters": ["停水"]} for n in range(2, 400_000)]
    (tmp_path / "big.json").write_text(
        json.dumps({"format": "noticebot-subscriptions", "version": 1, "chats": chats})
    )
    begun = time.monotonic()

    def midway() -> bool:  # well into reading the file, and nothing saved yet
        return time.monotonic() - begun > 0.8 and _count(db, "chats") == 1

    done = _interrupted(["import", "big.json", "--db", str(db)], tmp_path, midway)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 130, done.stderr
    assert _said(done) == ["noticebot: interrupted"]
    assert [chat.id for chat in Store(db).subscribed_chats()] == [1]


def test_ctrl_c_during_a_scan_is_one_line(tmp_path: Path) -> None:
    """SIGINT to the command's process: its worker processes, when a terminal's Ctrl-C
    reaches them too, are the folder reader's to quiet."""
    db = _ledger(tmp_path)
    folder = tmp_path / "articles"
    folder.mkdir()
    for n in range(3000):
        (folder / f"{n:04}.md").write_text(
            f"---\ntitle: notice {n}\ndate: 2024-01-01\n---\n停水通知 {n}\n" * 3, "utf-8"
        )

    def midway() -> bool:  # some chunks of the files saved, not all
        return 0 < _count(db, "files") < 3000

    done = _interrupted(["scan", "--db", str(db)], tmp_path, midway, group=False)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 130, done.stderr
    assert _said(done) == ["noticebot: interrupted"]
    Store(db).close()  # the ledger still opens


def _export_of(*chats: object, version: object = 1) -> str:
    return json.dumps({"format": "noticebot-subscriptions", "version": version, "chats": chats})


def test_a_misspelt_field_is_named_with_the_closest_known_one(tmp_path: Path) -> None:
    db = _ledger(tmp_path)
    (tmp_path / "subs.json").write_text(_export_of({"id": 5, "langauge": "en", "mdoe": "full"}))
    done = _cli("import", "subs.json", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert _said(done) == [
        "noticebot import: chat 5: unknown field 'langauge' (language?);"
        " unknown field 'mdoe' (mode?)",
        "noticebot import: nothing imported: 1 chat invalid"
        " (use --skip-invalid to import the 0 valid ones)",
    ]
    assert [chat.id for chat in Store(db).subscribed_chats()] == [1]
    (tmp_path / "odd.json").write_text(_export_of({"id": 6, "colour": "red"}))
    odd = _cli("import", "odd.json", "--skip-invalid", "--db", str(db), cwd=tmp_path)
    assert odd.returncode == 0, odd.stderr
    assert _said(odd)[0] == "noticebot import: chat 6: unknown field 'colour'"


def test_version_true_is_no_version(tmp_path: Path) -> None:
    db = _ledger(tmp_path)
    (tmp_path / "subs.json").write_text(_export_of({"id": 5}, version=True))
    done = _cli("import", "subs.json", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert _said(done) == ["noticebot import: export version true; this noticebot reads 1"]


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    db = _ledger(tmp_path)
    text = '{"format": "noticebot-subscriptions", "version": 1, "chats": [{"id": 5, "title": "é"}]}'
    (tmp_path / "subs.json").write_bytes(text.encode("latin-1"))
    done = _cli("import", "subs.json", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    (line,) = _said(done)
    assert line.startswith("noticebot import: subs.json: not UTF-8 text"), line


def test_export_dash_is_standard_output_and_imports_through_a_pipe(tmp_path: Path) -> None:
    db = _ledger(tmp_path)
    out = _cli("export", "-", "--db", str(db), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "-").exists()
    assert json.loads(out.stdout)["chats"][0]["id"] == 1
    other = tmp_path / "other.db"
    done = _cli("import", "-", "--create", "--db", str(other), cwd=tmp_path, stdin=out.stdout)
    assert done.returncode == 0, done.stderr
    assert [chat.id for chat in Store(other).subscribed_chats()] == [1]


def test_an_export_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    db = _ledger(tmp_path)
    done = _cli("export", "subs.json", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "subs.json").stat().st_mode) == 0o600
    (tmp_path / "old.json").write_text("an older export")
    (tmp_path / "old.json").chmod(0o644)
    again = _cli("export", "old.json", "--force", "--db", str(db), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert stat.S_IMODE((tmp_path / "old.json").stat().st_mode) == 0o600
    assert json.loads((tmp_path / "old.json").read_text())["chats"][0]["id"] == 1
    assert not list(tmp_path.glob("*.partial"))
