"""OPML and feed addresses, the pure parts: what a feed reader's file says, what an
export writes, and which spellings of an address are one feed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.reading.articles import one_line
from bot.sources.feeds import normal_url
from bot.sources.opml import MAX_BYTES, OpmlError, OpmlFeed, read_opml, write_opml


def opml(body: str) -> bytes:
    return f"<?xml version='1.0'?><opml version='2.0'><body>{body}</body></opml>".encode()


def test_a_feed_takes_its_innermost_folder_else_its_category_attribute() -> None:
    found = read_opml(
        opml(
            "<outline text='街道'><outline text='三号楼'>"
            "<outline text='a' xmlUrl='http://a.example/rss'/></outline>"
            "<outline text='b' xmlUrl='http://b.example/rss'/></outline>"
            "<outline text='c' xmlurl='http://c.example/rss' category='/社区/停水,/其他'/>"
            "<outline text='d' xmlUrl='http://d.example/rss'/>"
        )
    )
    assert [(f.url, f.category) for f in found.feeds] == [
        ("http://a.example/rss", "三号楼"),
        ("http://b.example/rss", "街道"),
        ("http://c.example/rss", "停水"),
        ("http://d.example/rss", None),
    ]


def test_what_a_feed_is_called_and_what_only_noticebot_knows() -> None:
    found = read_opml(
        opml(
            "<outline text='t' title=' 居委会\n通知 ' xmlUrl='http://a.example/rss'"
            " noticebotInterval='600' noticebotPaused='true'/>"
            "<outline text='http://u:pw@b.example/rss' xmlUrl='http://u:pw@b.example/rss'"
            " noticebotInterval='1e999'/>"
            "<outline text='c' xmlUrl='http://c.example/rss' noticebotInterval='-5'/>"
            "<outline text='again' xmlUrl='http://a.example/rss'/>"
        )
    )
    a, b, c = found.feeds
    assert (a.title, a.interval, a.paused) == ("居委会 通知", 600.0, True)
    assert b.title is None and b.interval is None  # an address is no title; no infinity
    assert c.interval is None and not c.paused
    assert found.repeated == ["http://a.example/rss"]


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"<opml><body><outline xmlUrl='x'></body>", "not XML"),
        (b"", "not XML"),
        (b"<rss version='2.0'><channel/></rss>", "not OPML: its root element is <rss>"),
        (b"<opml version='2.0'><head/></opml>", "not OPML: no <body>"),
        (b"<opml><body/></opml>" + b" " * MAX_BYTES, "larger than 5 MB"),
    ],
)
def test_what_is_no_opml_is_one_line(data: bytes, said: str) -> None:
    with pytest.raises(OpmlError, match=said) as raised:
        read_opml(data)
    assert "\n" not in str(raised.value)


def test_entities_are_never_fetched_and_what_they_expand_to_is_bounded() -> None:
    doctype = (
        b"<?xml version='1.0'?><!DOCTYPE opml [<!ENTITY a 'aaaaaaaaaa'>"
        b"<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;'>"
        b"<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
    )
    feed = (
        b"<opml version='2.0'><body><outline text='%s' xmlUrl='http://a.example/'/></body></opml>"
    )
    (expanded,) = read_opml(doctype + feed % b"&c;").feeds  # 800 characters
    assert expanded.title == "a" * 200
    with pytest.raises(OpmlError, match=r"not XML: .*external entity"):
        read_opml(doctype + feed % b"&x;")
    laughs = b"<!ENTITY l0 'lol'>" + b"".join(
        b"<!ENTITY l%d '%s'>" % (n, b"".join(b"&l%d;" % (n - 1) for _ in range(10)))
        for n in range(1, 10)
    )
    with pytest.raises(OpmlError, match="not XML"):  # a billion laughs: libxml2 stops it
        read_opml(b"<?xml version='1.0'?><!DOCTYPE opml [" + laughs + b"]>" + feed % b"&l9;")


names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)
feeds = st.lists(
    st.builds(
        OpmlFeed,
        url=st.from_regex(r"https?://[a-z]{1,8}\.example/[a-z0-9/]{0,10}", fullmatch=True),
        title=st.none() | names.map(str.strip).filter(lambda t: t and "://" not in t),
        category=st.none() | names.map(str.strip).filter(lambda t: t and "," not in t),
        interval=st.none() | st.floats(60, 366 * 86400.0),
        paused=st.booleans(),
    ),
    max_size=8,
    unique_by=lambda f: f.url,
)


@given(feeds)
def test_an_export_reads_back_as_the_same_feeds(written: list[OpmlFeed]) -> None:
    read = read_opml(write_opml(written, "noticebot feeds", 0.0))

    def shown(text: str | None) -> str | None:
        return one_line(text) or None if text else None

    normal = [
        OpmlFeed(f.url, shown(f.title), shown(f.category), f.interval, f.paused) for f in written
    ]
    assert sorted(read.feeds, key=lambda f: f.url) == sorted(normal, key=lambda f: f.url)
    assert read.repeated == []


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("Http://Example.ORG:80/rss#new", "http://example.org/rss"),
        ("https://example.org:443", "https://example.org/"),
        ("https://example.org:8443/a?b=C", "https://example.org:8443/a?b=C"),
        ("http://User:P%40ss@Example.org/x", "http://User:P%40ss@example.org/x"),
        ("http://[2001:DB8::1]:80/f", "http://[2001:db8::1]/f"),
    ],
)
def test_one_spelling_of_an_address(typed: str, kept: str) -> None:
    assert normal_url(typed) == kept
    assert normal_url(kept) == kept


def test_an_export_is_the_opml_2_feed_readers_take() -> None:
    """Other readers read attributes as spelled (``xmlUrl``, not ``xmlurl``): the whole
    document, byte for byte."""
    written = write_opml(
        [
            OpmlFeed("https://a.example/rss", "居委会", "停水", 600.0, True),
            OpmlFeed("https://u:pw@b.example/rss"),
            OpmlFeed("https://c.example/rss", "物业", "停水", 90.5),
        ],
        "noticebot feeds",
        0.0,
    )
    assert written.decode("utf-8") == (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<opml version="2.0">\n'
        "  <head>\n"
        "    <title>noticebot feeds</title>\n"
        "    <dateCreated>Thu, 01 Jan 1970 00:00:00 GMT</dateCreated>\n"
        "    <docs>http://opml.org/spec2.opml</docs>\n"
        "  </head>\n"
        "  <body>\n"
        '    <outline type="rss" text="https://***@b.example/rss"'
        ' title="https://***@b.example/rss" xmlUrl="https://u:pw@b.example/rss"/>\n'
        '    <outline text="停水" title="停水">\n'
        '      <outline type="rss" text="居委会" title="居委会" xmlUrl="https://a.example/rss"'
        ' category="/停水" noticebotInterval="600" noticebotPaused="true"/>\n'
        '      <outline type="rss" text="物业" title="物业" xmlUrl="https://c.example/rss"'
        ' category="/停水" noticebotInterval="90.5"/>\n'
        "    </outline>\n"
        "  </body>\n"
        "</opml>\n"
    )


def test_the_edges_of_what_a_file_may_say() -> None:
    found = read_opml(
        opml(
            "<foo xmlUrl='http://not-an-outline.example/'/>"
            "<outline text='a' xmlUrl='http://a.example/' category='停水'/>"
            "<outline text='a again' xmlUrl='http://a.example/'/>"
            "<outline text='b' xmlUrl='http://b.example/' category='/社区/停电/'"
            f" noticebotInterval='{366 * 86400}'/>"
            "<outline text='c' xmlUrl='http://c.example/' noticebotInterval='0.5'/>"
            "<outline text='d' xmlUrl='http://d.example/' noticebotInterval='0'/>"
        )
    )
    assert [(f.url, f.category, f.interval) for f in found.feeds] == [
        ("http://a.example/", "停水", None),
        ("http://b.example/", "停电", 366 * 86400.0),
        ("http://c.example/", None, 0.5),
        ("http://d.example/", None, None),
    ]
    assert found.repeated == ["http://a.example/"]
    exactly = opml("<outline xmlUrl='http://e.example/'/>")
    assert read_opml(exactly + b" " * (MAX_BYTES - len(exactly))).feeds  # at the limit


def test_a_dtd_is_never_loaded(tmp_path) -> None:  # noqa: ANN001
    """An entity defined in a DTD on this machine stays undefined: reading an OPML file
    reads no other file."""
    (tmp_path / "x.dtd").write_text("<!ENTITY secret 'from the machine'>")
    doctype = f"<!DOCTYPE opml SYSTEM 'file://{tmp_path}/x.dtd'>".encode()
    body = b"<opml version='2.0'><body><outline text='&secret;' xmlUrl='http://a/'/></body></opml>"
    (feed,) = read_opml(b"<?xml version='1.0'?>" + doctype + body).feeds
    assert "machine" not in str(feed.title)


def test_no_body_is_said_so() -> None:
    with pytest.raises(OpmlError, match=r"^not OPML: no <body>$"):
        read_opml(b"<opml version='2.0'><head/></opml>")


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("HTTPS://Example.org:443/a", "https://example.org/a"),
        ("HTTP://example.org:80/a", "http://example.org/a"),
        (
            "http://example.org/%7euser/%41%2f%40?q=%e5%81%9c",
            "http://example.org/~user/A%2F%40?q=%E5%81%9C",
        ),
        ("http://例子.测试/", "http://xn--fsqu00a.xn--0zwm56d/"),
    ],
)
def test_escapes_and_ports_have_one_spelling(typed: str, kept: str) -> None:
    assert normal_url(typed) == kept


def test_a_namespaced_file_a_folders_title_and_a_category_ending_in_capitals() -> None:
    found = read_opml(
        b"<?xml version='1.0'?><opml xmlns='http://opml.org/spec2' version='2.0'><body>"
        b"<outline text='t' title='\xe4\xb8\x89\xe5\x8f\xb7\xe6\xa5\xbc'>"
        b"<outline text='a' xmlUrl='http://a.example/'/></outline>"
        b"<outline text='b' xmlUrl='http://b.example/' category='/Inbox/BOX'/>"
        b"</body></opml>"
    )
    assert [(f.url, f.category) for f in found.feeds] == [
        ("http://a.example/", "三号楼"),
        ("http://b.example/", "BOX"),
    ]
