"""Configuration: defaults, the file, the environment, and clear errors."""

from __future__ import annotations

import os
import re
from dataclasses import fields
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, load_config


def test_defaults(tmp_path: Path) -> None:
    config = load_config({}, tmp_path)
    assert config.token is None
    assert config.api_url == "https://api.telegram.org"
    assert config.articles == (Path("seeds"),)
    assert config.db == Path("state/noticebot.db")
    assert config.scan_interval == 300 and config.watch
    assert str(config.tz) == "Asia/Shanghai"
    assert config.lang == "zh"
    assert config.max_age_days == 7
    assert config.unwrap_proxies == ("https://cors.zfour.workers.dev/?",)


def test_file_then_environment(tmp_path: Path) -> None:
    (tmp_path / "noticebot.toml").write_text(
        'NOTICEBOT_LANG = "en"\nnoticebot_scan_interval = 30\n'
        'NOTICEBOT_ADMINS = [1, 2]\nNOTICEBOT_ARTICLES = ["a", "b"]\n',
        encoding="utf-8",
    )
    config = load_config(
        {"NOTICEBOT_SCAN_INTERVAL": "5", "TELEGRAM_API_URL": "http://x:1/"}, tmp_path
    )
    assert config.lang == "en"
    assert config.scan_interval == 5
    assert config.admins == frozenset({1, 2})
    assert config.articles == (Path("a"), Path("b"))
    assert config.api_url == "http://x:1"
    env = {"NOTICEBOT_ARTICLES": os.pathsep.join(["x", "y"]), "NOTICEBOT_ADMINS": "7, 8"}
    config = load_config(env, tmp_path)
    assert config.articles == (Path("x"), Path("y"))
    assert config.admins == frozenset({7, 8})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NOTICEBOT_SCAN_INTERVAL", "often", "NOTICEBOT_SCAN_INTERVAL must be a number"),
        ("NOTICEBOT_SCAN_INTERVAL", "0", "NOTICEBOT_SCAN_INTERVAL must be greater than 0"),
        ("NOTICEBOT_TZ", "Mars/Olympus", "NOTICEBOT_TZ: unknown time zone"),
        ("NOTICEBOT_ADMINS", "12,abc", "'abc' is not an integer"),
        ("NOTICEBOT_LANG", "fr", "NOTICEBOT_LANG must be one of zh, en"),
        ("TELEGRAM_API_URL", "ftp://x", "TELEGRAM_API_URL must start with http"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({name: value}, tmp_path)


def test_broken_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "noticebot.toml").write_text("NOTICEBOT_LANG = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config({}, tmp_path)


def test_a_permalink_pattern_must_name_the_post() -> None:
    assert (
        load_config({"NOTICEBOT_PERMALINK": "/posts/:title.html"}).permalink == "posts/:title.html"
    )
    with pytest.raises(ConfigError, match="NOTICEBOT_PERMALINK must contain :title"):
        load_config({"NOTICEBOT_PERMALINK": ":year/:month/"})


def test_log_format_is_text_or_json() -> None:
    assert load_config({"NOTICEBOT_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="NOTICEBOT_LOG_FORMAT must be text or json"):
        load_config({"NOTICEBOT_LOG_FORMAT": "xml"})


def test_metrics_listen_is_host_and_port() -> None:
    assert load_config({"NOTICEBOT_METRICS_LISTEN": "127.0.0.1:9464"}).metrics_listen == (
        "127.0.0.1",
        9464,
    )
    assert load_config({"NOTICEBOT_METRICS_LISTEN": ":9464"}).metrics_listen == ("0.0.0.0", 9464)
    with pytest.raises(ConfigError, match="NOTICEBOT_METRICS_LISTEN must be host:port"):
        load_config({"NOTICEBOT_METRICS_LISTEN": "9464x"})


def test_a_webhook_needs_a_public_https_address() -> None:
    config = load_config({"NOTICEBOT_WEBHOOK_URL": "https://bot.example.org/hook"})
    assert config.webhook_url == "https://bot.example.org/hook"
    assert config.webhook_listen == ("127.0.0.1", 8443)
    with pytest.raises(ConfigError, match="NOTICEBOT_WEBHOOK_URL must be the public https://"):
        load_config({"NOTICEBOT_WEBHOOK_URL": "http://bot.example.org/hook"})


def test_a_feed_fetch_has_a_deadline_and_a_feed_an_entry_limit(tmp_path: Path) -> None:
    config = load_config({}, tmp_path)
    assert config.feed_deadline == 30 and config.feed_max_entries == 200
    (tmp_path / "noticebot.toml").write_text(
        "NOTICEBOT_FEED_DEADLINE = 12.5\nNOTICEBOT_FEED_MAX_ENTRIES = 50\n", encoding="utf-8"
    )
    config = load_config({"NOTICEBOT_FEED_MAX_ENTRIES": "80"}, tmp_path)
    assert config.feed_deadline == 12.5 and config.feed_max_entries == 80
    for name, value, message in [
        ("NOTICEBOT_FEED_DEADLINE", "0", "NOTICEBOT_FEED_DEADLINE must be greater than 0"),
        ("NOTICEBOT_FEED_DEADLINE", "soon", "NOTICEBOT_FEED_DEADLINE must be a number"),
        ("NOTICEBOT_FEED_MAX_ENTRIES", "-1", "NOTICEBOT_FEED_MAX_ENTRIES must be greater than 0"),
        ("NOTICEBOT_FEED_MAX_ENTRIES", "2.5", "NOTICEBOT_FEED_MAX_ENTRIES must be a whole number"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_config({name: value}, tmp_path)


@pytest.mark.parametrize(
    "name",
    [
        "NOTICEBOT_SCAN_INTERVAL",
        "NOTICEBOT_MAX_AGE_DAYS",
        "NOTICEBOT_MAX_FILE_BYTES",
        "NOTICEBOT_MAX_IN_FLIGHT",
        "NOTICEBOT_FEED_INTERVAL",
        "NOTICEBOT_FEED_DEADLINE",
        "NOTICEBOT_FEED_MAX_ENTRIES",
    ],
)
@pytest.mark.parametrize("value", ["inf", "1e400", "nan", "-inf", "1e300", "-5"])
def test_numbers_that_are_no_number_of_seconds_or_bytes_name_the_setting(
    tmp_path: Path, name: str, value: str
) -> None:
    """Infinity, not-a-number and the absurdly large are refused at start, not when a
    timer or a byte count overflows later."""
    with pytest.raises(ConfigError, match=rf"^{name} must be"):
        load_config({name: value}, tmp_path)


def test_paths_and_ids_that_cannot_be_used_name_the_setting(tmp_path: Path) -> None:
    (tmp_path / "noticebot.toml").write_text('NOTICEBOT_DB = "a\\u0000b"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^NOTICEBOT_DB must be a path"):
        load_config({}, tmp_path)
    (tmp_path / "noticebot.toml").unlink()
    with pytest.raises(ConfigError, match=r"^NOTICEBOT_ADMINS"):
        load_config({"NOTICEBOT_ADMINS": str(2**70)}, tmp_path)
    with pytest.raises(ConfigError, match=r"^NOTICEBOT_METRICS_LISTEN"):
        load_config({"NOTICEBOT_METRICS_LISTEN": ":²"}, tmp_path)


def test_an_unknown_setting_is_named_with_the_closest_known_one(tmp_path: Path) -> None:
    from bot.config import unknown_settings

    (tmp_path / "noticebot.toml").write_text("noticebot_scan_intervl = 5\n", encoding="utf-8")
    env = {"NOTICEBOT_ADMIN": "1", "NOTICEBOT_ADMINS": "2", "NOTICEBOT_COLOUR_OF_THE_SHED": "x"}
    config = load_config(env, tmp_path)
    assert config.admins == frozenset({2})  # not an error
    assert unknown_settings(config, env) == [
        "unknown setting NOTICEBOT_SCAN_INTERVL in noticebot.toml ignored"
        " (did you mean NOTICEBOT_SCAN_INTERVAL?)",
        "unknown setting NOTICEBOT_ADMIN ignored (did you mean NOTICEBOT_ADMINS?)",
        "unknown setting NOTICEBOT_COLOUR_OF_THE_SHED ignored",
    ]


def test_every_known_setting_is_one_load_config_reads(tmp_path: Path) -> None:
    """The list an unknown name is checked against is the list load_config reads: each
    known setting, given an odd value, changes the configuration or is refused by name
    (a name listed but never read would be a setting that silently does nothing)."""
    from dataclasses import fields

    from bot.config import SETTINGS

    default = load_config({}, tmp_path)
    for name in SETTINGS:
        try:
            config = load_config({name: "odd,/value:1"}, tmp_path)
        except ConfigError as error:
            assert str(error).startswith(name), (name, error)
            continue
        changed = [
            f.name for f in fields(config) if getattr(config, f.name) != getattr(default, f.name)
        ]
        assert changed, f"{name} is a known setting that load_config does not read"


def test_every_setting_named_in_the_configuration_is_a_known_one() -> None:
    """A setting load_config reads but the list lacks is warned about as unknown while it
    works: every variable name bot/config.py mentions must be in the list."""
    import inspect
    import re

    import bot.config
    from bot.config import HARNESS, SETTINGS

    named = set(re.findall(r'"((?:NOTICEBOT|TELEGRAM)_[A-Z_]+)"', inspect.getsource(bot.config)))
    assert named - set(HARNESS) <= set(SETTINGS), sorted(named - set(HARNESS) - set(SETTINGS))


def test_the_settings_table_and_the_config_agree_on_every_default(tmp_path: Path) -> None:
    """Defaults are written twice (as settings text, and as Config's typed fields): a
    bot started with nothing set is the Config every test builds."""
    loaded, built = load_config(env={}, cwd=tmp_path), Config()
    differ = [f.name for f in fields(Config) if getattr(loaded, f.name) != getattr(built, f.name)]
    assert differ == []


def test_a_mistyped_telegram_name_is_said_and_other_tools_names_are_not(tmp_path: Path) -> None:
    from bot.config import unknown_settings

    env = {"TELEGRAM_BOT_TOKN": "1:x", "TELEGRAM_API_ID": "12345"}
    assert unknown_settings(load_config(env, tmp_path), env) == [
        "unknown setting TELEGRAM_BOT_TOKN ignored (did you mean TELEGRAM_BOT_TOKEN?)"
    ]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[bot]\nNOTICEBOT_DB = 'x.db'\n", "bot is a [table]"),
        ("NOTICEBOT_FEEDS = [1, {a = 2}]\n", "NOTICEBOT_FEEDS is a value that is no text"),
        ("NOTICEBOT_DB = 2026-12-05\n", "NOTICEBOT_DB is a value that is no text"),
    ],
)
def test_a_noticebot_toml_value_that_is_no_setting_is_refused(
    tmp_path: Path, text: str, said: str
) -> None:
    (tmp_path / "noticebot.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(said)):
        load_config({}, tmp_path)


def test_a_noticebot_toml_that_is_no_file_is_said(tmp_path: Path) -> None:
    (tmp_path / "noticebot.toml").mkdir()
    with pytest.raises(ConfigError, match="not a readable file"):
        load_config({}, tmp_path)
    (tmp_path / "noticebot.toml").rmdir()
    (tmp_path / "noticebot.toml").symlink_to(tmp_path / "gone.toml")
    with pytest.raises(ConfigError, match="not a readable file"):
        load_config({}, tmp_path)


def test_switches_and_resident_facing_lines_come_from_the_environment(tmp_path: Path) -> None:
    env = {
        "NOTICEBOT_EDITS": "off",
        "NOTICEBOT_WATCH": "off",
        "NOTICEBOT_ORG_NAME": " 丽园路居民委员会 ",
        "NOTICEBOT_CONTACT": "021-5555 1234",
    }
    config = load_config(env, tmp_path)
    assert (config.edits, config.watch) == (False, False)
    assert (config.org_name, config.contact) == ("丽园路居民委员会", "021-5555 1234")
    with pytest.raises(ConfigError, match="NOTICEBOT_CONTACT"):
        load_config({"NOTICEBOT_CONTACT": "a\nb"}, tmp_path)
