"""The command line fuzzed (Hypothesis): every command with random arguments, every
setting with random values. Whatever is typed or configured: never a traceback; bad
input is exit status 2 with one line naming what was wrong, and the ledger unchanged.

In-process (``bot.cli.main``) for speed, plus a few real processes. Examples:
NOTICEBOT_CLI_FUZZ_EXAMPLES (about 200 in ``make test``, thousands in ``make chaos``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.config import SETTINGS
from tests.in_process import command_state_kept
from tests.paths import SEED
from tests.process import BOT_COMMAND, clean_env

EXAMPLES = int(os.environ.get("NOTICEBOT_CLI_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# `run` would start the bot; it is fuzzed through its settings in real processes below.
COMMANDS = (
    "preview",
    "broadcast",
    "announce",
    "backup",
    "export",
    "import",
    "scan",
    "status",
    "list",
)
OPTIONS = (
    "--db",
    "--json",
    "-n",
    "--cancel",
    "--force",
    "--yes",
    "--withdraw",
    "--create",
    "--lang",
    "--html",
    "--title",
    "--articles",
    "--bogus",
    "-",
    "--",
)


KEPT: set[Path] = set()  # what the folder holds before any example


@dataclass(frozen=True)
class Place:
    """A folder holding a real ledger, and the odd paths a user may give."""

    root: Path
    db: Path
    articles: Path

    @property
    def pristine(self) -> Path:
        return self.root / "pristine.db"

    def restore(self, kept: set[Path]) -> None:
        """The folder as made and the ledger as scanned: a command may write on purpose
        (`preview --html` over the ledger, `export FILE`, `import`), and each example
        starts from the same state."""
        for path in sorted(set(self.root.rglob("*")) - kept, reverse=True):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        for extra in ("-wal", "-shm"):
            self.db.with_name(self.db.name + extra).unlink(missing_ok=True)
        shutil.copy(self.pristine, self.db)

    def paths(self) -> list[str]:
        return [
            str(self.db),
            str(self.root),  # a directory
            str(self.root / "missing" / "deep" / "x.db"),
            str(self.articles / SEED.name / "below.db"),  # below a file
            str(self.articles / SEED.name),  # not a database
            "/proc/x.db",
            "/proc/self/status",
            "",
            " ",
        ]


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    root = tmp_path_factory.mktemp("cli-fuzz")
    articles = root / "articles"
    articles.mkdir()
    shutil.copy(SEED, articles)
    here = Place(root, root / "ledger" / "bot.db", articles)
    saved = Path.cwd()
    os.chdir(root)
    try:
        with pytest.MonkeyPatch.context() as patch:
            _clean(patch, here)
            with command_state_kept():
                assert main(["scan", "--create"]) == 0
        with sqlite3.connect(here.db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy(here.db, here.pristine)
        KEPT.update(root.rglob("*"))
        yield here
    finally:
        os.chdir(saved)


def _clean(patch: pytest.MonkeyPatch, place: Place) -> None:
    for name in list(os.environ):
        if name.startswith(("NOTICEBOT_", "TELEGRAM")):
            patch.delenv(name)
    patch.setenv("NOTICEBOT_DB", str(place.db))
    patch.setenv("NOTICEBOT_ARTICLES", str(place.articles))
    patch.setenv("NOTICEBOT_ANNOUNCE_DIR", str(place.root / "announcements"))


def _ledger(db: Path) -> str:
    """What the ledger holds (its WAL included), whatever the file's bytes."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if not p.name.endswith(("-wal", "-shm", ".lock"))}


def _words(place: Place) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(OPTIONS),
        st.sampled_from(place.paths()),
        st.sampled_from(["0", "-1", "1", "2", "1e400", "inf", "nan", "9" * 40, "zh", "fr"]),
        st.text(max_size=12),
        st.binary(max_size=8).map(os.fsdecode),  # bytes no encoding decodes
    )


VALUES = st.one_of(
    st.sampled_from(
        ["", " ", "\t\n", "inf", "-inf", "nan", "1e400", "-1", "0", "9" * 400, "on", "xml"]
    ),
    st.sampled_from(["/proc/x", "/proc/self/status", "/nonexistent/folder", ".", "/"]),
    st.text(max_size=20).filter(lambda t: "\0" not in t),
    st.binary(min_size=1, max_size=10).filter(lambda b: b"\0" not in b).map(os.fsdecode),
)


def _check(
    argv: list[str], place: Place, capsys: pytest.CaptureFixture[str], named: list[str]
) -> None:
    place.restore(KEPT)
    before, files = _ledger(place.db), _files(place.root)
    with command_state_kept():
        code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    assert code in (0, 1, 2), (argv, code, err)
    if code == 2:
        errors = [e for e in err.splitlines() if not e.startswith("noticebot: WARNING: ")]
        errors = [e for e in errors if not e.endswith(("(--db)", "(NOTICEBOT_DB)"))]
        assert len(errors) == 1, (argv, err)
        assert any(name in errors[0] for name in named) or " argument" in errors[0], (argv, err)
        assert _ledger(place.db) == before, (argv, err)
        assert _files(place.root) == files, (argv, err)


@FUZZ
@given(data=st.data())
def test_every_command_with_random_arguments(
    data: st.DataObject, place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    command = data.draw(st.sampled_from(COMMANDS))
    argv = [command, *data.draw(st.lists(_words(place), max_size=5))]
    with pytest.MonkeyPatch.context() as patch:
        _clean(patch, place)
        capsys.readouterr()
        _check(argv, place, capsys, [w for w in argv if w.strip()] + ["noticebot", "ledger"])


@FUZZ
@given(
    name=st.sampled_from(SETTINGS),
    value=VALUES,
    command=st.sampled_from([["status"], ["list"], ["scan", "--json"], ["preview", str(SEED)]]),
)
def test_every_setting_with_random_values(
    name: str, value: str, command: list[str], place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        _clean(patch, place)
        patch.setenv(name, value)
        capsys.readouterr()
        _check(command, place, capsys, [name, "ledger", value.strip() or name])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NOTICEBOT_SCAN_INTERVAL", "inf"),
        ("NOTICEBOT_MAX_FILE_BYTES", "1e400"),
        ("NOTICEBOT_FEED_DEADLINE", "nan"),
        ("NOTICEBOT_DB", "/proc/x.db"),
        ("NOTICEBOT_ADMINS", "\udcff"),
    ],
)
def test_a_real_process_says_a_bad_setting_in_one_line(place: Place, name: str, value: str) -> None:
    """The same as a user meets it: a real process, the value as the environment's bytes,
    `run` with a token included (it must refuse before it asks the Bot API anything)."""
    before = _ledger(place.db)
    for command in (["status"], ["run"]):
        env = clean_env(
            NOTICEBOT_DB=str(place.db),
            NOTICEBOT_ARTICLES=str(place.articles),
            TELEGRAM_BOT_TOKEN="123456:a-token-no-bot-api-is-asked-about",
            TELEGRAM_API_URL="http://127.0.0.1:9",
        )
        environ = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
        environ[os.fsencode(name)] = os.fsencode(value)
        done = subprocess.run(
            [*BOT_COMMAND, *command], cwd=place.root, env=environ, capture_output=True, timeout=60
        )
        err = done.stderr.decode("utf-8", "replace")
        assert done.returncode == 2, err
        assert "Traceback" not in err
        said = [line for line in err.splitlines() if " INFO " not in line]
        said = [line for line in said if not line.endswith("(NOTICEBOT_DB)")]
        assert len(said) == 1 and (name in said[0] or "/proc/x.db" in said[0]), err
    assert _ledger(place.db) == before
