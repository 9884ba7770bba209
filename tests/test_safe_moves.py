"""Moves that cannot lose data: `noticebot backup` never replaces the ledger the bot is
writing, `export` never overwrites a file unasked, and `import` stores only settings
the bot can use, checked with the rules /settings follows."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from bot.ledger import Chat, Store
from tests.process import run_cli


def _said(done: subprocess.CompletedProcess[str], command: str) -> list[str]:
    """What the command said about its work (not the line naming the ledger it uses)."""
    assert "Traceback" not in done.stderr
    return [line for line in done.stderr.splitlines() if line.startswith(f"noticebot {command}:")]


def _live_ledger(tmp_path: Path) -> Store:
    store = Store(tmp_path / "noticebot.db")
    store.subscribe(Chat(1))
    return store


@pytest.mark.parametrize("part", ["", "-wal", "-shm"])
def test_a_backup_onto_the_live_ledger_is_refused_and_the_bot_keeps_its_rows(
    tmp_path: Path, part: str
) -> None:
    store = _live_ledger(tmp_path)  # the running bot: its connection stays open
    db = tmp_path / "noticebot.db"
    done = run_cli("backup", f"{db}{part}", "--force", cwd=tmp_path, NOTICEBOT_DB=str(db))
    store.subscribe(Chat(2))  # the bot writes on after the operator's mistake
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    (said,) = _said(done, "backup")
    assert "is the live ledger" in said
    reopened = Store(db)  # what the bot reads after a restart
    assert [chat.id for chat in reopened.subscribed_chats()] == [1, 2]
    assert not list(tmp_path.glob("*.partial"))


def test_a_backup_through_another_name_for_the_ledger_is_refused(tmp_path: Path) -> None:
    store = _live_ledger(tmp_path)
    (tmp_path / "alias.db").symlink_to(tmp_path / "noticebot.db")
    done = run_cli("backup", "alias.db", "--force", cwd=tmp_path, NOTICEBOT_DB="noticebot.db")
    store.subscribe(Chat(2))
    assert done.returncode == 2 and "is the live ledger" in done.stderr
    assert len(Store(tmp_path / "noticebot.db").subscribed_chats()) == 2


def test_a_backup_into_a_folder_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    _live_ledger(tmp_path)
    (tmp_path / "backups").mkdir()
    done = run_cli("backup", "backups", "--force", cwd=tmp_path, NOTICEBOT_DB="noticebot.db")
    assert done.returncode == 2
    assert _said(done, "backup") == [
        "noticebot backup: backups is a folder; give a file name for the copy"
    ]
    assert list((tmp_path / "backups").iterdir()) == []
    assert not list(tmp_path.glob("*.partial"))
    nowhere = run_cli("backup", "nope/x.db", cwd=tmp_path, NOTICEBOT_DB="noticebot.db")
    assert nowhere.returncode == 2
    assert _said(nowhere, "backup") == ["noticebot backup: nope: no such folder"]


def test_a_backup_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    _live_ledger(tmp_path)
    done = run_cli("backup", "copy.db", cwd=tmp_path, NOTICEBOT_DB="noticebot.db")
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "copy.db").stat().st_mode) == 0o600
    (tmp_path / "old.db").write_text("an older copy")
    (tmp_path / "old.db").chmod(0o644)
    again = run_cli("backup", "old.db", "--force", cwd=tmp_path, NOTICEBOT_DB="noticebot.db")
    assert again.returncode == 0, again.stderr
    assert stat.S_IMODE((tmp_path / "old.db").stat().st_mode) == 0o600
    copy = sqlite3.connect(tmp_path / "old.db")
    assert copy.execute("SELECT id FROM chats").fetchall() == [(1,)]


def test_an_export_does_not_overwrite_a_file(tmp_path: Path) -> None:
    store = _live_ledger(tmp_path)
    for ledger in ("noticebot.db", "noticebot.db-wal"):
        onto = run_cli("export", ledger, cwd=tmp_path, NOTICEBOT_DB="noticebot.db")
        assert onto.returncode == 2
        (said,) = _said(onto, "export")
        assert said.startswith(f"noticebot export: {ledger} is the live ledger")
    store.subscribe(Chat(2))
    assert len(Store(tmp_path / "noticebot.db").subscribed_chats()) == 2
    (tmp_path / "subs.json").write_text("the last export, still needed")
    done = run_cli("export", "subs.json", cwd=tmp_path, NOTICEBOT_DB="noticebot.db")
    assert done.returncode == 2
    assert _said(done, "export") == [
        "noticebot export: subs.json exists (use --force to replace it)"
    ]
    assert (tmp_path / "subs.json").read_text() == "the last export, still needed"
    (tmp_path / "out").mkdir()
    for target, said in (("out", "out is a folder"), ("nope/s.json", "nope: no such folder")):
        refused = run_cli("export", target, cwd=tmp_path, NOTICEBOT_DB="noticebot.db")
        assert refused.returncode == 2
        (line,) = _said(refused, "export")
        assert line.startswith(f"noticebot export: {said}")


GOOD = {"id": 11, "type": "private", "mode": "digest", "digest_time": "20:00", "language": "en"}
BAD = [
    ({"id": 123, "mode": "nonsense"}, "chat 123: mode 'nonsense' is not one of card, full, digest"),
    ({"id": 124, "language": "fr"}, "chat 124: language 'fr' is not one of zh, en"),
    (
        {"id": 125, "quiet_start": "99:99", "quiet_end": "07:00"},
        "chat 125: quiet_start '99:99' is not a time HH:MM (00:00 to 23:59)",
    ),
    (
        {"id": 126, "quiet_start": "22:00"},
        "chat 126: quiet hours need both quiet_start and quiet_end",
    ),
    (
        {"id": 127, "mode": "digest", "digest_time": "25:00"},
        "chat 127: digest time '25:00' is not one of 08:00, 20:00",
    ),
    ({"id": 128, "filters": "停水"}, "chat 128: filters '停水' is not a list of words"),
    (
        {"id": -1001, "type": "supergroup", "thread_id": "seven"},
        "chat -1001: thread_id 'seven' is not a forum topic (a positive integer)",
    ),
    ({"id": 129, "type": "forum"}, "chat 129: type 'forum' is not one of"),
    (
        {"id": "abc"},
        "chat 10 of the export: id 'abc' is not a chat id (a non-zero integer)",
    ),
    ({"id": [1]}, "chat 11 of the export: id a list is not a chat id"),
    ({"id": 2**70}, f"chat 12 of the export: id {2**70} is not a chat id"),
    ({"id": 11, "mode": "card"}, "chat 11: listed twice"),
]


def _export(path: Path, items: list[object]) -> None:
    data = {"format": "noticebot-subscriptions", "version": 1, "chats": items}
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")


def test_an_import_with_invalid_settings_imports_nothing_and_names_each_bad_chat(
    tmp_path: Path,
) -> None:
    _export(tmp_path / "subs.json", [GOOD, *(item for item, _ in BAD)])
    done = run_cli("import", "subs.json", "--create", cwd=tmp_path, NOTICEBOT_DB="new.db")
    assert done.returncode == 2
    lines = _said(done, "import")
    assert len(lines) == len(BAD) + 1
    for line, (_, said) in zip(lines, BAD, strict=False):
        assert line.startswith(f"noticebot import: {said}")
    assert lines[-1] == (
        "noticebot import: nothing imported: 12 chats invalid"
        " (use --skip-invalid to import the 1 valid one)"
    )
    assert "ValueError" not in done.stderr
    assert Store(tmp_path / "new.db").subscribed_chats() == []


def test_an_import_from_a_missing_file_or_a_folder_is_one_line(tmp_path: Path) -> None:
    for name, said in (("nope.json", "No such file or directory"), (".", "Is a directory")):
        done = run_cli("import", name, "--create", cwd=tmp_path, NOTICEBOT_DB="new.db")
        assert done.returncode == 2
        assert _said(done, "import") == [f"noticebot import: {name}: {said}"]


def test_invalid_settings_are_not_stored_and_valid_ones_are(tmp_path: Path) -> None:
    settings = [item for item, _ in BAD[:7]]  # each a well-formed chat id with a bad setting
    _export(tmp_path / "bad.json", settings)
    refused = run_cli("import", "bad.json", "--create", cwd=tmp_path, NOTICEBOT_DB="new.db")
    assert refused.returncode == 2
    assert len(_said(refused, "import")) == len(settings) + 1
    assert Store(tmp_path / "new.db").subscribed_chats() == []
    quiet = {"id": 12, "quiet_start": "22:00", "quiet_end": "07:00", "filters": ["停水"]}
    _export(tmp_path / "subs.json", [GOOD, quiet])
    done = run_cli("import", "subs.json", cwd=tmp_path, NOTICEBOT_DB="new.db")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "imported 2 chats: 2 new, 0 already known (settings taken)\n"
    chats = {chat.id: chat for chat in Store(tmp_path / "new.db").subscribed_chats()}
    assert (chats[11].mode, chats[11].digest_time, chats[11].language) == ("digest", "20:00", "en")
    assert (chats[12].quiet_start, chats[12].quiet_end, chats[12].filters) == (
        "22:00",
        "07:00",
        ("停水",),
    )


def test_skip_invalid_imports_the_valid_chats_and_lists_the_others(tmp_path: Path) -> None:
    _export(tmp_path / "subs.json", [GOOD, *(item for item, _ in BAD)])
    done = run_cli(
        "import", "subs.json", "--skip-invalid", "--create", cwd=tmp_path, NOTICEBOT_DB="new.db"
    )
    assert done.returncode == 0, done.stderr
    listed = _said(done, "import")
    assert len(listed) == len(BAD)
    for line, (_, said) in zip(listed, BAD, strict=True):
        assert line.startswith(f"noticebot import: {said}")
    assert done.stdout == (
        "imported 1 chat: 1 new, 0 already known (settings taken), 12 invalid skipped\n"
    )
    assert [chat.id for chat in Store(tmp_path / "new.db").subscribed_chats()] == [11]


def test_an_export_replaces_a_file_with_force(tmp_path: Path) -> None:
    _live_ledger(tmp_path)
    (tmp_path / "subs.json").write_text("the last export")
    done = run_cli("export", "subs.json", "--force", cwd=tmp_path, NOTICEBOT_DB="noticebot.db")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "subs.json").read_text())["chats"][0]["id"] == 1
    onto = run_cli("export", "noticebot.db", "--force", cwd=tmp_path, NOTICEBOT_DB="noticebot.db")
    assert onto.returncode == 2 and "is the live ledger" in onto.stderr
