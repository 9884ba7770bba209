"""Announcements typed in the chat, kept as article files: Markdown with front matter.

The admin's formatting comes as python-telegram-bot renders it (``text_html``:
bold, italic, links, code), and html2text makes Markdown of it, which is what
html2text is for. Telegram has no lists, so lines that start like list items
(``- ``, ``• ``, ``1. ``) become one before the conversion. The file goes into
``NOTICEBOT_ANNOUNCE_DIR``, a folder scanned like any other: point it into a Hexo
``source/_posts`` and the website publishes the same announcement; editing the
file corrects the messages, deleting it withdraws them.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import frontmatter
import html2text

CATEGORY = "公告"
_ITEM = re.compile(r"^\s*(?:[-•*·]|(\d{1,3})[.)、])\s+(.*)$")
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]")
_TITLE = re.compile(r"^\s*<b>([^<\n]{1,120})</b>\s*(?:\n|$)")


def split_title(html: str) -> tuple[str | None, str]:
    """A first line that is all bold is the title (how an admin writes a heading), unless
    it is all there is, or a label that leads into the text (``温馨提示：``)."""
    match = _TITLE.match(html)
    if match is None or not html[match.end() :].strip():
        return None, html
    title = html2text.html2text(match.group(1)).strip()
    if not title or title.endswith(("：", ":")):
        return None, html
    return title, html[match.end() :]


class _Converter(html2text.HTML2Text):
    """html2text puts a space between emphasis and the word before or after it, which
    Markdown needs beside Latin letters. Beside Chinese it needs none (``本周六**上午**停水``,
    and ``**注意！**停水`` too, as the renderer reads emphasis beside Chinese), and the
    space would show in every chat."""

    def handle_tag(self, tag: str, attrs: dict[str, str | None], start: bool) -> None:
        if start and tag in ("em", "i", "u") and _cjk_end(self.preceding_data):
            self.preceding_data += " "  # what html2text looks at: no space to add
        super().handle_tag(tag, attrs, start)

    def handle_data(self, data: str, entity_char: bool = False) -> None:
        if self.preceding_stressed and _CJK.match(data[:1]):
            self.preceding_stressed = False
        super().handle_data(data, entity_char)


def _cjk_end(text: str) -> bool:
    return bool(text) and bool(_CJK.match(text[-1]))


def to_markdown(html: str) -> str:
    """Telegram's HTML of a message (line breaks as ``\\n``) → Markdown."""
    converter = _Converter(bodywidth=0)
    converter.emphasis_mark = "*"  # works inside a word, which _ does not
    converter.escape_snob = True  # a resident's * or _ stays a character
    converter.ignore_images = True
    markdown = converter.handle(_blocks(html))
    # html2text indents list items by two spaces; front matter tools strip a body's
    # first line, which would make the first item the parent of the others
    markdown = re.sub(r"^  (?=\s*(?:\*|\d+\.) )", "", markdown, flags=re.MULTILINE)
    return _escape_angles(markdown).strip() + "\n"


def _blocks(html: str) -> str:
    """Paragraphs at blank lines, list items as lists, other line breaks as <br>."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", html.strip()):
        lines = paragraph.split("\n")
        html_lines: list[str] = []
        items: list[str] = []
        ordered = False
        for line in [*lines, ""]:
            match = _ITEM.match(line) if line else None
            if match and (not items or bool(match.group(1)) == ordered):
                ordered = bool(match.group(1))
                items.append(match.group(2))
                continue
            if items:
                tag = "ol" if ordered else "ul"
                html_lines.append(
                    f"<{tag}>" + "".join(f"<li>{i}</li>" for i in items) + f"</{tag}>"
                )
                items = []
                if match:  # a list of the other kind starts here
                    ordered = bool(match.group(1))
                    items.append(match.group(2))
                    continue
            if line:
                html_lines.append(line + "<br>")
        out.append("<p>" + "".join(html_lines) + "</p>")
    return "".join(out)


def _escape_angles(markdown: str) -> str:
    """``<`` a resident typed (html2text unescapes ``&lt;``) must not open an HTML tag
    when the Markdown is rendered; inside code it stays as it is."""
    parts = _CODE.split(markdown)
    return "".join(
        part if index % 2 else part.replace("<", "\\<") for index, part in enumerate(parts)
    )


def announcement_file(
    title: str, author: str, markdown: str, when: datetime, *, ack: bool = False
) -> str:
    """``ack``: residents are asked to confirm they read it."""
    post = frontmatter.Post(
        markdown, title=title, date=when.isoformat(timespec="seconds"), author=author
    )
    post["categories"] = [CATEGORY]
    if ack:
        post["ack"] = True
    return frontmatter.dumps(post, allow_unicode=True, sort_keys=False) + "\n"


def write_announcement(
    folder: Path, title: str, author: str, markdown: str, when: datetime, *, ack: bool = False
) -> Path:
    """A new file, never over another (two admins in the same second)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{when:%Y-%m-%d-%H%M%S}-announcement"
    text = announcement_file(title, author, markdown, when, ack=ack)
    for number in range(1000):
        path = folder / (f"{stem}.md" if number == 0 else f"{stem}-{number}.md")
        try:
            with path.open("x", encoding="utf-8") as file:
                file.write(text)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no free name for {stem}.md")
