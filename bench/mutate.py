"""Mutation testing of the code that carries the README's promises, with mutmut.

Run: ``make mutate`` (or ``.venv/bin/python -m bench.mutate [GROUP …] [--jobs N]
[--only MUTANT …]``).

Each group is one module (or a few functions of some) and the few test files that hold
its promises, so a run stays affordable on two cores. mutmut works in its own copy:
``mutants/<group>/`` holds links to ``bot/``, ``tests/`` and ``seeds/``, a
``pyproject.toml`` with the group's ``[tool.mutmut]`` table, and mutmut's ``mutants/``
beside them, where the mutated code lives; the sources in ``bot/`` are only read. Every
run starts afresh, so a test added since the last run counts. The report gives
killed/total per group and each surviving mutant's diff; the exit code is 1 when a
mutant survives in a group that must have none (authorization, redaction).
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "mutants"
MUTMUT = Path(sys.executable).with_name("mutmut")


@dataclass(frozen=True)
class Group:
    name: str
    files: tuple[str, ...]  # the modules to mutate
    tests: tuple[str, ...]  # the test files (or test ids) that must kill their mutants
    functions: tuple[str, ...] = ()  # mutant name patterns; empty: every function
    strict: bool = False  # a survivor fails the run


def _in(module: str, *names: str) -> tuple[str, ...]:
    """mutmut's names for the mutants of these functions of a module."""
    return tuple(f"{module}.x_{name}__mutmut_*" for name in names)


# Mutants no test can kill, as they change nothing the code promises: the function's
# mutant names, what the mutated line says, and why it is the same code.
EQUIVALENT = (
    (
        "bot.logs.x_hold_secret__mutmut_*",
        'quote(form, safe="XXXX")',
        "quote() never escapes a letter, so safe='XXXX' escapes what safe='' does",
    ),
    (
        "bot.logs.x_hold_secret__mutmut_*",
        "ensure_ascii=None",
        "json.dumps() only asks whether ensure_ascii is true: None is False",
    ),
    (
        "bot.chat.admin.x_confirm_button__mutmut_*",
        'fullmatch(data or "XXXX")',
        "no data (None) is no confirmation either way: neither '' nor 'XXXX' matches",
    ),
    (
        "bot.ledger.deliveries.xǁDeliveriesǁdeliveries__mutmut_*",
        'else ("XXXX", [])',
        "SELECT * FROM deliveries XXXX: a word after a table's name is its alias",
    ),
    *(
        (
            "bot.sending.reconciler.xǁReconcilerǁ_mark__mutmut_*",
            f'(part.kind or "{spelling}") in MEDIA_METHODS',
            "no spelling of sendMessage is a media method: the part is marked as text",
        )
        for spelling in ("sendmessage", "SENDMESSAGE", "XXsendMessageXX")
    ),
    *(
        (
            f"bot.sending.reconciler.xǁReconcilerǁ{method}__mutmut_*",
            f"part.but(state=GONE, {pinned})",
            "a gone part's pin is cleared without a call by the unpin step that follows",
        )
        for method in ("_mark", "_edit")
        for pinned in ("pinned=None", "pinned=True", ")")
    ),
    (
        "bot.sending.reconciler.xǁReconcilerǁ_note__mutmut_*",
        '.get("title") or "XXXX"',
        "a notice's row always has a title (the file's, or its name)",
    ),
    (
        "bot.sending.reconciler.xǁReconcilerǁ_after__mutmut_*",
        "now - first_error > self.policy.retry_window",
        "the retry window ending at the very instant of a failure: a clock reading apart",
    ),
    *(
        (
            "bot.sending.reconciler.xǁReconcilerǁ_pin__mutmut_*",
            flag,
            "None is as false as False to every reader of a part's pin and of a chat's",
        )
        for flag in ("pinned=None", "pin_unsure=None", "pin_refused=None", "(chat.id, None)")
    ),
    *(
        (
            "bot.sending.reconciler.xǁReconcilerǁ_edit_album__mutmut_*",
            f"zip({columns}, {strict})",
            "editable() let only an album with a picture per message through: zip's strict"
            " only asserts what holds",
        )
        for columns in ("part.ids, part.pictures, message.media_urls", "part.ids, part.pictures")
        for strict in ("strict=None", "strict=False", "")
    ),
    *(
        (
            "bot.sending.reconciler.xǁReconcilerǁ_edit_album__mutmut_*",
            f"zip(*kept, {strict})",
            "pairs zipped back into two columns are as long as each other",
        )
        for strict in ("strict=None", "strict=False", "")
    ),
    (
        "bot.sending.reconciler.xǁReconcilerǁ_edit_album__mutmut_*",
        "if (kept) or True else",
        "an album has two pictures or more, so one cut leaves some: kept is never empty",
    ),
    (
        "bot.reading.richtext.x__entity_cap__mutmut_*",
        "if e.start <= end and e.end > pos",
        "an entity that starts at the end can only put the cap at the end or later, and"
        " the caller takes the nearer of the two",
    ),
    (
        "bot.reading.richtext.x__grapheme_safe__mutmut_*",
        "_GRAPHEME.finditer(text, None)",
        "from the start of the text or of the part: the same boundaries, as every part"
        " starts on one (but after a cut inside a grapheme longer than a whole part)",
    ),
    (
        "bot.reading.richtext.x__grapheme_safe__mutmut_*",
        "_GRAPHEME.finditer(text, )",
        "from the start of the text or of the part: the same boundaries, as every part"
        " starts on one (but after a cut inside a grapheme longer than a whole part)",
    ),
    (
        "bot.reading.richtext.x__room_end__mutmut_*",
        "bisect_right(units, units[pos] + limit, )",
        "the UTF-16 prefix sums only grow, so the answer is at pos or later either way:"
        " searching from pos only saves steps",
    ),
    (
        "bot.reading.richtext.xǁRichTextǁslice__mutmut_*",
        "if e.start < end or e.end > start",
        "what else comes in is clipped to nothing, and normalized() drops empty entities",
    ),
    (
        "bot.reading.richtext.xǁRichTextǁslice__mutmut_*",
        "if e.start <= end and e.end > start",
        "what else comes in is clipped to nothing, and normalized() drops empty entities",
    ),
    (
        "bot.reading.richtext.xǁRichTextǁslice__mutmut_*",
        "if e.start < end and e.end >= start",
        "what else comes in is clipped to nothing, and normalized() drops empty entities",
    ),
    (
        "bot.sending.flood.xǁFloodControlǁ_pause__mutmut_*",
        "if resume_at >= self._resume_at:",
        "two 429s whose waits end at the same instant: the loop's clock moves between any"
        " two answers, so the warning is never said twice for one wait either way",
    ),
    (
        "bot.sending.flood.xǁFloodControlǁ_paused__mutmut_*",
        ") >= 0:",
        "a wait of exactly 0 s is a sleep(0) and a look again, with the clock moved on",
    ),
    (
        "bot.sending.flood.xǁFloodControlǁ__init____mutmut_*",
        "self._resume_at = 1.0",
        "the loop's clock is the machine's monotonic one, past 1 s once it has booted",
    ),
)

COMMANDS = "tests/test_commands.py::"
# What the convergence model found, kept as plain tests: each a second or less. The
# model itself (a minute of a mutant's time on two cores) is left to make test and
# make chaos, or a run of a thousand mutants would take hours.
MODEL_FINDS = tuple(
    f"tests/test_convergence_model.py::test_{name}"
    for name in (
        "a_shorter_text_leaves_the_second_picture_not_a_text_saying_brackets",
        "published_again_an_album_picture_gets_no_brackets_caption",
        "published_again_a_copy_marked_withdrawn_shows_the_notice",
        "a_pin_whose_answer_was_lost_is_undone_when_the_notice_stops_being_urgent",
        "an_unpin_whose_answer_was_lost_does_not_keep_an_urgent_card_unpinned",
        "published_again_a_marked_album_loses_its_withdrawn_caption",
        "an_album_someone_cut_is_not_left_behind",
    )
)
GROUPS = (
    Group(
        "redaction",
        ("bot/logs.py",),
        (
            "tests/test_logs.py",
            "tests/test_secrets_in_logs.py",
            "tests/test_health_server.py::test_a_failed_scrape_is_logged_through_the_redactor",
            "tests/test_mutants_logs.py",
        ),
        strict=True,
    ),
    Group(
        "authorization",
        (
            "bot/chat/commands.py",
            "bot/chat/replies.py",
            "bot/chat/admin.py",
            "bot/chat/settings_menu.py",
        ),
        (
            "tests/test_security_admins.py",
            "tests/test_security_channel_subscriber.py",
            "tests/test_security_forged_data.py",
            "tests/test_security_found.py",
            "tests/test_security_group_member.py",
            COMMANDS + "test_group_subscribe_needs_an_admin",
            COMMANDS + "test_channel_subscribes_by_post_and_from_private",
            COMMANDS + "test_settings_change_mode_and_language",
            COMMANDS + "test_admin_broadcast_with_confirm",
            COMMANDS + "test_non_admins_are_refused_and_nothing_is_sent",
            "tests/test_mutants_auth.py",
        ),
        _in("bot.chat.commands", "may_manage", "_administers")
        + _in("bot.chat.replies", "is_admin")
        + _in("bot.chat.admin", "refuse", "confirm_button")
        + _in("bot.chat.settings_menu", "settings_button", "_changes", "_on_a_settings_menu"),
        strict=True,
    ),
    Group(
        "splitter",
        ("bot/reading/richtext.py",),
        ("tests/test_richtext.py", "tests/test_mutants_richtext.py"),
    ),
    Group(
        "flood",
        ("bot/sending/flood.py",),
        (
            "tests/test_flood.py",
            "tests/test_starvation.py",
            "tests/test_promises_sending.py::test_25_notices_to_a_group_keep_its_pace",
            "tests/test_converge_chats.py::test_restarts_keep_a_groups_pace",
            "tests/test_mutants_flood.py",
        ),
    ),
    # the ledger's transitions: queued, sending, sent, retracted, and back
    Group(
        "ledger",
        ("bot/ledger/deliveries.py",),
        (
            "tests/test_delivery.py",
            "tests/test_exactly_once.py",
            "tests/test_revisions.py",
            "tests/test_converge.py",
            "tests/test_convergence_model.py",
            "tests/test_time_rules.py::test_a_postponed_notice_goes_out_on_its_new_date",
            "tests/test_time_rules.py::test_a_notice_brought_forward_goes_out_on_its_new_date",
            "tests/test_mutants_ledger.py",
        ),
    ),
    # what a chat's copy must become, and the calls that make it so
    Group(
        "reconciler",
        ("bot/sending/reconciler.py", "bot/sending/steps.py"),
        (
            "tests/test_steps.py",
            "tests/test_converge.py",
            "tests/test_converge_attacks.py",
            *MODEL_FINDS,
            "tests/test_delivery.py",
            "tests/test_exactly_once.py",
            *(
                f"tests/test_converge_chats.py::test_{name}"
                for name in (
                    "a_group_without_media_rights_gets_every_notice_as_text",
                    "a_closed_topic_holds_the_notice_and_tells_the_admins_once",
                    "a_database_error_while_recording_backs_the_row_off",
                    "a_worker_that_keeps_failing_shows_in_healthz",
                    "one_chat_with_a_backlog_does_not_starve_the_others",
                    "a_correction_after_an_upgrade_leaves_others_messages_alone",
                    "a_withdrawal_after_an_upgrade_leaves_others_messages_alone",
                )
            ),
            "tests/test_mutants_reconciler.py",
            "tests/test_reconciler_marks_and_pins.py",
        ),
    ),
    # who confirmed, rounds, counts to edit, reminders, forgetting
    Group(
        "confirmations",
        ("bot/ledger/acks.py",),
        (
            "tests/test_acks_ledger.py",
            "tests/test_acks_model.py",
            "tests/test_acks_attacks.py",
        ),
    ),
    # feeds the admins manage: OPML in and out, which addresses are private, one spelling
    Group(
        "feeds",
        ("bot/sources/opml.py", "bot/sources/feeds.py"),
        ("tests/test_opml.py", "tests/test_feeds_private.py"),
        (
            "bot.sources.opml.*",
            *_in("bot.sources.feeds", "is_private", "private_host", "normal_url", "spelling"),
        ),
    ),
)


# mutmut's first pass runs the tests once to learn which test reaches which function; its
# bookkeeping works in the test process only, and a bot the tests start as a process of
# its own (tests/process.py, tests/chaos.py) must run unmutated code then, not fail.
# When a mutant is tested, processes get its name and run it as the tests do.
PLUGIN = """import os


def pytest_configure(config):
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        del os.environ["MUTANT_UNDER_TEST"]  # mutmut keeps its own copy in this process
"""


def _prepare(group: Group) -> Path:
    """A fresh copy for mutmut: links to the code and tests, the group's configuration."""
    home = WORK / group.name
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    for name in ("bot", "tests", "seeds"):
        (home / name).symlink_to(ROOT / name, target_is_directory=True)
    (home / "mutmut_children.py").write_text(PLUGIN, encoding="utf-8")
    setting = {
        "source_paths": ["bot"],
        "also_copy": ["mutmut_children.py", "seeds"],  # the sample notices tests read
        "pytest_add_cli_args": ["-p", "mutmut_children"],
        "only_mutate": list(group.files),
        "pytest_add_cli_args_test_selection": [t for t in group.tests if _exists(t)],
        "use_git_change_detection": False,
        # each mutant's tests in a process forked before any test ran: the redactor's held
        # secrets and other module state of the first pass must not help a mutant pass
        "process_isolation": "forkserver",
    }
    table = "\n".join(f"{key} = {_toml(value)}" for key, value in setting.items())
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (home / "pyproject.toml").write_text(f"{project}\n[tool.mutmut]\n{table}\n", encoding="utf-8")
    return home


def _exists(test: str) -> bool:
    return (ROOT / test.split("::")[0]).exists()


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return f'"{value}"'


RESULT = re.compile(r"^\s*(\S+): (.+)$")


def _results(home: Path, patterns: tuple[str, ...]) -> dict[str, str]:
    """Each mutant of the group (of these names) and what became of it."""
    done = subprocess.run(
        [MUTMUT, "results", "--all", "true"], cwd=home, capture_output=True, text=True, check=True
    )
    found = {}
    for line in done.stdout.splitlines():
        match = RESULT.match(line)
        if match is None:
            continue
        name, status = match.groups()
        if not patterns or any(fnmatch.fnmatch(name, p) for p in patterns):
            found[name] = status
    return found


def run(group: Group, jobs: int, only: tuple[str, ...] = ()) -> list[str]:
    """Mutate and test one group (``only`` these mutants of it, to check the survivors of
    an earlier run again); print its score and survivors, return the survivors."""
    home = _prepare(group)
    print(f"== {group.name}: {', '.join(group.files)}", flush=True)
    patterns = only or group.functions
    command = [MUTMUT, "run", "--max-children", str(jobs), *patterns]
    done = subprocess.run(command, cwd=home, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n")
        raise SystemExit(f"mutmut failed on {group.name} (exit {done.returncode})")
    results = _results(home, patterns)
    killed = [n for n, s in results.items() if s in ("killed", "timeout")]
    timeouts = sum(s == "timeout" for s in results.values())
    shown = {
        name: subprocess.run(
            [MUTMUT, "show", name], cwd=home, capture_output=True, text=True
        ).stdout.strip()
        for name in sorted(n for n in results if n not in killed)
    }
    equivalent = {name: why for name, diff in shown.items() if (why := _equivalent(name, diff))}
    survivors = [name for name in shown if name not in equivalent]
    by_timeout = f" ({timeouts} by timeout)" if timeouts else ""
    same = f", {len(equivalent)} equivalent" if equivalent else ""
    print(f"{group.name}: killed {len(killed)}/{len(results)}{by_timeout}{same}")
    for name, why in equivalent.items():
        print(f"-- equivalent: {name}: {why}")
    for name in survivors:
        print(f"-- {results[name]}: {name}\n{shown[name]}\n")
    return survivors


def _equivalent(name: str, diff: str) -> str | None:
    """Why this surviving mutant is the same code, if it is a known equivalent one."""
    added = [line for line in diff.splitlines() if line.startswith("+ ")]
    removed = [line for line in diff.splitlines() if line.startswith("- ")]
    if name.startswith("bot.ledger.") and _case_only(removed, added):
        return "SQL in another case: SQLite reads keywords and names in any case"
    for pattern, text, why in EQUIVALENT:
        if fnmatch.fnmatch(name, pattern) and any(text in line for line in added):
            return why
    return None


def _case_only(removed: list[str], added: list[str]) -> bool:
    """Lines that differ only in case, none of them a key looked up in a row."""
    pairs = list(zip(removed, added, strict=False))
    return (
        len(removed) == len(added) > 0
        and all(old[1:].lower() == new[1:].lower() for old, new in pairs)
        and not any('["' in old for old in removed)
    )


def main() -> None:
    names = [g.name for g in GROUPS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", help="some of: " + ", ".join(names))
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--only", nargs="+", default=(), metavar="MUTANT", help="names, patterns")
    args = parser.parse_args()
    if unknown := set(args.groups) - set(names):
        parser.error(f"no group {', '.join(sorted(unknown))}")
    chosen = [g for g in GROUPS if not args.groups or g.name in args.groups]
    failed = [g.name for g in chosen if run(g, args.jobs, tuple(args.only)) and g.strict]
    if failed:
        raise SystemExit(f"surviving mutants in {', '.join(failed)}")


if __name__ == "__main__":
    main()
