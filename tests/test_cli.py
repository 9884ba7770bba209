"""`noticebot preview` as a user runs it: a real process, real files."""

from __future__ import annotations

import http.server
import json
import shutil
import signal
import socket
import subprocess
import threading
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.ledger.owner import Owner
from tests.chaos import wait_for
from tests.emulator import Emulator, Fault
from tests.paths import ROOT, SEED
from tests.process import BOT_COMMAND, clean_env, free_port, run_cli


def test_preview_shows_the_seed_card_and_lengths(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    result = run_cli("preview", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b[" not in out  # piped: no ANSI styling
    assert "[photo] http://static.1sapp.com/qupost/img/2022/02/01/caa781ce" in out
    assert "爱申活暖心春｜社区防疫不放松，新春问候暖心传递" in out
    assert "2022年2月1日 16:57 · 趣头条" in out
    assert "caption 286/1024" in out
    assert "1 article(s), 0 error(s)" in out


def test_preview_json_is_the_exact_calls(tmp_path: Path) -> None:
    result = run_cli("preview", "--json", "--lang", "en", str(SEED), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    calls = [json.loads(line) for line in result.stdout.splitlines()]
    assert [c["method"] for c in calls] == [
        "sendPhoto",
        "sendMessage",
        "sendMediaGroup",
        "sendMediaGroup",
    ]
    assert calls[0]["params"]["caption"].split("\n")[1] == "1 Feb 2022, 16:57 · 趣头条"
    assert calls[1]["params"]["entities"][0]["type"] == "bold"


def test_preview_html_and_errors_listed_last(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(SEED, folder)
    (folder / "broken.md").write_text("---\ntitle: [unclosed\n---\n正文", encoding="utf-8")
    page = tmp_path / "out.html"
    result = run_cli("preview", "--html", str(page), cwd=tmp_path, NOTICEBOT_ARTICLES=str(folder))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "broken.md" in last and "line 2" in last
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "爱申活暖心春" in html and "broken.md" in html


def test_bad_configuration_is_one_clear_line(tmp_path: Path) -> None:
    result = run_cli("preview", cwd=tmp_path, NOTICEBOT_TZ="Nowhere/Town")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "noticebot: configuration error: NOTICEBOT_TZ: unknown time zone 'Nowhere/Town' "
        "(use an IANA name such as Asia/Shanghai)"
    )
    assert "Traceback" not in result.stderr


def _scanned_ledger(tmp_path: Path) -> Path:
    """A real ledger holding the seed article, made by `noticebot scan`."""
    folder = tmp_path / "articles"
    folder.mkdir(exist_ok=True)
    shutil.copy(SEED, folder)
    db = tmp_path / "kept" / "bot.db"
    done = run_cli(
        "scan", "--create", "--db", str(db), cwd=tmp_path, NOTICEBOT_ARTICLES=str(folder)
    )
    assert done.returncode == 0, done.stderr
    return db


def test_every_command_takes_db_and_says_which_ledger(tmp_path: Path) -> None:
    db = _scanned_ledger(tmp_path)
    for command in ("status", "list", "export"):
        result = run_cli(command, "--db", str(db), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines()[0] == f"noticebot: ledger {db} (--db)"
    shown = run_cli("status", cwd=tmp_path, NOTICEBOT_DB=str(db))
    assert "articles: active 1" in shown.stdout
    assert shown.stderr.splitlines()[0] == f"noticebot: ledger {db} (NOTICEBOT_DB)"
    flag_wins = run_cli("list", "--db", str(db), cwd=tmp_path, NOTICEBOT_DB="elsewhere.db")
    assert flag_wins.returncode == 0 and "爱申活暖心春" in flag_wins.stdout
    assert not (tmp_path / "elsewhere.db").exists()


def test_a_command_that_would_create_a_ledger_says_so_and_creates_nothing(tmp_path: Path) -> None:
    """Only `run` makes a ledger unasked: any other command pointed at no ledger (a shell
    without the bot's settings) stops in one line, naming the path and the ways out."""
    (tmp_path / "subs.json").write_text('{"format": "noticebot-subscriptions"}', "utf-8")
    for command, env in (
        (["status"], {}),
        (["list"], {"NOTICEBOT_DB": "nope/deep/bot.db"}),
        (["export"], {}),
        (["backup", "copy.db"], {}),
        (["broadcast", "--cancel", "1"], {}),
        (["scan"], {}),
        (["scan", "--json", "--withdraw"], {"NOTICEBOT_DB": "nope/deep/bot.db"}),
        (["import", "subs.json"], {}),
        (["import", "subs.json", "--db", "nope/deep/bot.db"], {}),
    ):
        result = run_cli(*command, cwd=tmp_path, NOTICEBOT_ARTICLES=str(tmp_path), **env)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == ""
        said = [line for line in result.stderr.splitlines() if not line.endswith("DB)")]
        path = env.get("NOTICEBOT_DB") or ("nope/deep/bot.db" if "--db" in command else None)
        head = f"noticebot: no ledger at {path or 'state/noticebot.db'}: nothing created; "
        way_out = "give the bot's with --db or NOTICEBOT_DB"
        if command[0] in ("scan", "import"):
            way_out += ", or add --create to make a new one here"
        else:
            way_out += " (`noticebot run` creates one)"
        assert said == [head + way_out], (command, result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["subs.json"]


def test_scan_and_import_create_a_ledger_when_asked(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(SEED, folder)
    scanned = run_cli(
        "scan", "--create", cwd=tmp_path, NOTICEBOT_ARTICLES=str(folder), NOTICEBOT_DB="a/b.db"
    )
    assert scanned.returncode == 0, scanned.stderr
    assert "first scan" in scanned.stdout and (tmp_path / "a" / "b.db").is_file()
    (tmp_path / "subs.json").write_text(
        json.dumps({"format": "noticebot-subscriptions", "version": 1, "chats": []}), "utf-8"
    )
    imported = run_cli("import", "subs.json", "--create", "--db", "c/d.db", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert (tmp_path / "c" / "d.db").is_file()
    again = run_cli("scan", cwd=tmp_path, NOTICEBOT_ARTICLES=str(folder), NOTICEBOT_DB="a/b.db")
    assert again.returncode == 0 and "first scan" not in again.stdout, again.stderr
    shown = run_cli("scan", "--help", cwd=tmp_path).stdout
    assert "--create" in shown and "make a new ledger here if there is none" in shown


@pytest.mark.parametrize("kind", ["directory", "below a file", "/proc", "not a database"])
@pytest.mark.parametrize(
    "command", [["status"], ["scan"], ["run"], ["backup", "copy.db"], ["run", "--console"]]
)
def test_a_ledger_path_that_names_no_ledger_is_one_line(
    tmp_path: Path, kind: str, command: list[str]
) -> None:
    (tmp_path / "file.txt").write_text("not a database, but a letter\n" * 10, encoding="utf-8")
    (tmp_path / "folder").mkdir()
    path = {
        "directory": str(tmp_path / "folder"),
        "below a file": str(tmp_path / "file.txt" / "bot.db"),
        "/proc": "/proc/x.db",
        "not a database": str(tmp_path / "file.txt"),
    }[kind]
    before = (tmp_path / "file.txt").read_bytes()
    result = run_cli(
        *command,
        *(["--db", path] if "--console" in command else []),
        cwd=tmp_path,
        NOTICEBOT_DB=path,
        NOTICEBOT_ARTICLES="articles",
        TELEGRAM_BOT_TOKEN="123:no-bot-api-is-asked",
        TELEGRAM_API_URL="http://127.0.0.1:9",
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    noted = f"noticebot: ledger {path} (NOTICEBOT_DB)"  # which ledger, before opening it
    said = [
        line
        for line in result.stderr.splitlines()
        if line != noted and " INFO " not in line  # run's log: where it starts
    ]
    assert len(said) == 1 and said[0].startswith("noticebot: "), result.stderr
    assert f"ledger {path}: " in said[0] or f"no ledger at {path}: " in said[0], result.stderr
    assert (tmp_path / "file.txt").read_bytes() == before
    assert list((tmp_path / "folder").iterdir()) == []
    if command[0] == "run" and kind == "/proc":
        return  # no ledger there, and run makes one: found unusable only when made
    assert result.stdout == ""  # not even console mode's banner
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "folder"]


def test_secrets_are_redacted_from_a_one_line_error(tmp_path: Path) -> None:
    token = "123456789:AAHsecretsecretsecretsecretsecret"
    result = run_cli(
        "status",
        cwd=tmp_path,
        TELEGRAM_BOT_TOKEN=token,
        TELEGRAM_API_URL=f"ftp://admin:hunter2@api.example.org/bot{token}",
    )
    assert result.returncode == 2
    assert result.stderr.startswith("noticebot: configuration error: TELEGRAM_API_URL")
    assert len(result.stderr.splitlines()) == 1
    assert "hunter2" not in result.stderr and "AAHsecret" not in result.stderr


def test_a_mistyped_argument_is_one_line_exit_2(tmp_path: Path) -> None:
    for args, named in (
        (["list", "-n", "1e99"], "argument -n"),
        (["list", "-n", "99999999999999999999999"], "argument -n"),
        (["broadcast", "--cancel", "-3"], "argument --cancel"),
        (["status", "--bogus"], "unrecognized arguments: --bogus"),
        (["nonsense"], "argument COMMAND"),
    ):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and named in result.stderr, result.stderr


def test_an_unknown_setting_is_a_warning_naming_the_closest(tmp_path: Path) -> None:
    result = run_cli("preview", str(SEED), cwd=tmp_path, NOTICEBOT_ADMIN="1")
    assert result.returncode == 0, result.stderr
    assert (
        "noticebot: WARNING: unknown setting NOTICEBOT_ADMIN ignored"
        " (did you mean NOTICEBOT_ADMINS?)" in result.stderr.splitlines()
    )


def test_version_is_the_package_version(tmp_path: Path) -> None:
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"noticebot {version('noticebot')}"


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`noticebot status | head -2`: the reader's end is closed before the command
    writes, so every write meets a broken pipe."""
    db = _scanned_ledger(tmp_path)
    for command in (["status"], ["list", "-n", "100"], ["preview", str(SEED)]):
        process = subprocess.Popen(
            [*BOT_COMMAND, *command, "--db", str(db)],
            cwd=tmp_path,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        errors = process.stderr.read().decode()
        assert process.wait(timeout=60) == 1
        assert "BrokenPipeError" not in errors and "Traceback" not in errors, errors


TOKEN_SHAPED = "123456789:AAHsecretsecretsecretsecretsecret"


class _Rejecting(http.server.BaseHTTPRequestHandler):
    """A Bot API that rejects every token, as Telegram does a revoked one."""

    def do_POST(self) -> None:
        body = json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"})
        self.send_response(401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def test_a_rejected_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Rejecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run_cli(
            "run",
            cwd=tmp_path,
            TELEGRAM_BOT_TOKEN=TOKEN_SHAPED,
            TELEGRAM_API_URL=f"http://127.0.0.1:{server.server_address[1]}",
        )
    finally:
        server.shutdown()
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "noticebot: Telegram rejected the bot token: check TELEGRAM_BOT_TOKEN (from @BotFather)"
        " (getMe: 401)"
    )
    assert "Traceback" not in result.stderr and "AAHsecret" not in result.stderr
    assert len(result.stderr.splitlines()) == 2  # where it starts, and why it stopped


def test_an_unreachable_bot_api_is_waited_for_one_line_a_try(tmp_path: Path) -> None:
    env = clean_env(
        TELEGRAM_BOT_TOKEN=TOKEN_SHAPED, TELEGRAM_API_URL=f"http://127.0.0.1:{free_port()}"
    )
    process = subprocess.Popen(
        [*BOT_COMMAND, "run"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    lines = [process.stderr.readline() for _ in range(3)]  # the start, then two tries
    process.send_signal(signal.SIGTERM)
    rest = process.stderr.read()
    assert process.wait(timeout=30) == 0  # stopped while waiting: a clean stop
    tries = [line for line in lines if "not reachable" in line]
    assert [t.split("(try ")[1][:1] for t in tries] == ["1", "2"], lines
    assert "trying again in 1 s" in tries[0] and "trying again in 2 s" in tries[1]
    assert "Traceback" not in rest and "AAHsecret" not in "".join(lines) + rest


def test_a_flood_wait_at_startup_is_waited_out(tmp_path: Path) -> None:
    """Telegram answers the start's getMe with 429 (the token's second was used by the
    active process a standby stands beside, or by a process just restarted): the bot
    waits as long as Telegram says and starts, instead of ending with a traceback."""
    (tmp_path / "articles").mkdir()
    with Emulator() as emulator:
        emulator.fail(0, "getMe", Fault.slow(0.0))  # the first answers: the API is there
        emulator.fail(0, "getMe", Fault.flood(1))
        env = clean_env(
            TELEGRAM_BOT_TOKEN=TOKEN_SHAPED,
            TELEGRAM_API_URL=emulator.url,
            NOTICEBOT_ARTICLES=str(tmp_path / "articles"),
        )
        process = subprocess.Popen(
            [*BOT_COMMAND, "run"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            wait_for(
                lambda: (
                    process.poll() is not None
                    or any(c.method == "getUpdates" for c in emulator.calls)
                ),
                timeout=60,
                what="polling",
            )
            assert process.poll() is None, "the bot ended"
        finally:
            process.send_signal(signal.SIGTERM)
            rest = process.stderr.read() if process.stderr else ""
            process.wait(timeout=30)
    assert [c.error is not None for c in emulator.calls if c.method == "getMe"][:3] == [
        False,
        True,
        False,
    ]
    assert "Traceback" not in rest, rest


def test_a_metrics_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken, Emulator() as emulator:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "run",
            cwd=tmp_path,
            TELEGRAM_BOT_TOKEN=TOKEN_SHAPED,
            TELEGRAM_API_URL=emulator.url,
            NOTICEBOT_METRICS_LISTEN=f"127.0.0.1:{port}",
            NOTICEBOT_ARTICLES=str(tmp_path),
        )
    assert result.returncode == 1, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"noticebot: NOTICEBOT_METRICS_LISTEN 127.0.0.1:{port}: "), last
    assert "Traceback" not in result.stderr and "destroyed" not in result.stderr, result.stderr


def test_console_beside_a_running_bot_is_the_clean_busy_line(tmp_path: Path) -> None:
    db = _scanned_ledger(tmp_path)
    owner = Owner(db)  # the running bot's lock, held by this process
    owner.take()
    try:
        console = run_cli("run", "--console", "--db", str(db), cwd=tmp_path)
        plain = run_cli("run", "--db", str(db), cwd=tmp_path)  # console mode too: no token
    finally:
        owner.release()
    for result in (console, plain):
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stderr.splitlines()[-1].startswith("noticebot: another noticebot (pid ")
