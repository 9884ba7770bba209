"""Template syntax that blog generators leave in a post's Markdown, made plain.

Hexo tag plugins (``{% note %}``, ``{% post_link %}``, ``{% asset_img %}``…),
Jekyll's Liquid (``{% highlight %}``, ``{{ site.baseurl }}``) and Hugo shortcodes
(``{{< youtube >}}``, ``{{% notice %}}``) would otherwise reach a chat as typed.
A note or a notice becomes a quote (code inside it stays code), a post link its
title, an asset image an image, a video a link, a code tag or a Hugo
``{{< highlight >}}`` a code block; any other tag loses its markers and keeps its
text. Code (fenced blocks, inline spans, ``{% raw %}``) keeps such text
literally. Pure: Markdown in, Markdown out.
"""

from __future__ import annotations

import re
import shlex

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})[^\n]*\n.*?(?:^\1?\2[`~]*[ \t]*$|\Z)", re.M | re.S)
# A code span ends with its paragraph: an unmatched run of backticks is literal.
_INLINE_CODE = re.compile(r"(`+)(?!`)(?:[^\n]|\n(?![ \t]*\n))+?(?<!`)\1(?!`)")
# Bodies and arguments are bounded, so a post full of unclosed tags stays linear.
_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}(.{0,5000}?)\{%-?\s*endraw\s*-?%\}", re.S)
_CODE_TAG = re.compile(
    r"\{%-?\s*(codeblock|code|highlight)\b([^%]{0,300})-?%\}\n?(.{0,5000}?)\{%-?\s*end\1\s*-?%\}",
    re.S,
)
_QUOTE_TAG = re.compile(
    r"\{%-?\s*(note|blockquote|quote|pullquote|centerquote|cq|alert|callout|tip|warning|info)"
    r"\b[^%]{0,300}-?%\}(.{0,5000}?)\{%-?\s*end\1\s*-?%\}",
    re.S,
)
_CODE_SHORTCODE = re.compile(
    r"\{\{[<%]\s*highlight\b([^}]{0,300}?)[>%]\}\}\n?(.{0,5000}?)\{\{[<%]\s*/\s*highlight\s*[>%]\}\}",
    re.S,
)
_QUOTE_SHORTCODE = re.compile(
    r"\{\{([<%])\s*(notice|note|alert|admonition|hint|tip|warning|callout|quote|blockquote)"
    r"\b[^}]{0,300}?[>%]\}\}(.{0,5000}?)\{\{[<%]\s*/\s*\2\s*[>%]\}\}",
    re.S,
)
# Template syntax the author escaped to show it: literal, shown as code.
_ESCAPED = re.compile(r"\\\{\\[{%].{0,300}?\\[}%]\\\}(?:\\\{\\[{%].{0,300}?\\[}%]\\\})*")
_UNESCAPE = re.compile(r"\\([{}<>%/])")
# A Hugo shortcode commented out to show it (``{{</* figure */>}}``): Hugo shows
# ``{{< figure >}}``, in code or not.
_HUGO_SHOWN = re.compile(r"\{\{([<%])/\*(.{0,300}?)\*/([>%])\}\}", re.S)
_TAG = re.compile(r"\{%-?\s*([A-Za-z_][\w-]*)\s*(.{0,300}?)\s*-?%\}", re.S)
_SHORTCODE = re.compile(r"\{\{([<%])\s*(/?)\s*([A-Za-z_][\w-]*)\s*(.{0,300}?)\s*[>%]\}\}", re.S)
_VARIABLE = re.compile(r"\{\{-?\s*([A-Za-z_][\w.]*)\s*(?:\|[^}]*)?-?\}\}")
_KEPT = re.compile("\x00(\\d+)\x00")
_BACKTICKS = re.compile("`{3,}")
_SITE_VARIABLES = {"site.baseurl", "site.url", "site.base_url", "site.BaseURL", ".Site.BaseURL"}
_VIDEO = {
    "youtube": "https://www.youtube.com/watch?v={}",
    "vimeo": "https://vimeo.com/{}",
    "bilibili": "https://www.bilibili.com/video/{}",
}


def plain_markdown(markdown: str, site_url: str | None = None) -> str:
    """``markdown`` with its template syntax turned into what it stands for."""
    if "{%" not in markdown and "{{" not in markdown:
        return markdown
    kept: list[str] = []

    def keep(text: str) -> str:
        kept.append(text)
        return f"\x00{len(kept) - 1}\x00"

    def restore(text: str) -> str:
        for _ in range(4):  # kept text may hold kept text (code inside a raw block)
            if "\x00" not in text:
                break
            text = _KEPT.sub(lambda m: kept[int(m.group(1))], text)
        return text

    def quoted(body: str) -> str:
        """Kept code inside the quote is quoted line by line too, or its fence would
        end the quote after its first line."""
        body = _KEPT.sub(lambda m: keep(_quote_continued(restore(m.group(0)))), body)
        return _quoted(body)

    text = _FENCE.sub(lambda m: keep(_hugo_shown(m.group(0))), markdown)
    text = _INLINE_CODE.sub(lambda m: keep(_hugo_shown(m.group(0))), text)
    text = _HUGO_SHOWN.sub(lambda m: keep(_as_code(_hugo_shown(m.group(0)))), text)
    text = _ESCAPED.sub(lambda m: keep(_as_code(_UNESCAPE.sub(r"\1", m.group(0)))), text)
    text = _RAW.sub(lambda m: keep(_literal(m.group(1))), text)
    text = _CODE_TAG.sub(lambda m: keep(_fenced(m.group(2), restore(m.group(3)))), text)
    text = _CODE_SHORTCODE.sub(lambda m: keep(_fenced(m.group(1), restore(m.group(2)))), text)
    for _ in range(3):  # quotes inside quotes
        text = _QUOTE_TAG.sub(lambda m: quoted(m.group(2)), text)
        text = _QUOTE_SHORTCODE.sub(lambda m: quoted(m.group(3)), text)
    text = _TAG.sub(lambda m: _tag(m.group(1), m.group(2)), text)
    text = _SHORTCODE.sub(lambda m: _shortcode(m.group(2), m.group(3), m.group(4)), text)
    text = _VARIABLE.sub(lambda m: _variable(m.group(1), site_url), text)
    return restore(text)


def fence_spans(markdown: str) -> list[tuple[int, int]]:
    """Where the fenced code blocks of ``markdown`` lie (start, end)."""
    return [m.span() for m in _FENCE.finditer(markdown)]


def _literal(raw: str) -> str:
    """What ``{% raw %}`` keeps: template syntax the author shows on one line reads
    as code (it is meant literally); longer content stays as it is."""
    one_line = "\n" not in raw.strip()
    return _as_code(raw.strip()) if one_line and ("{{" in raw or "{%" in raw) else raw


def _hugo_shown(code: str) -> str:
    return _HUGO_SHOWN.sub(r"{{\1\2\3}}", code) if "/*" in code else code


def _as_code(text: str) -> str:
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _fenced(args: str, code: str) -> str:
    """A fenced block longer than any backtick run in ``code``, which may itself
    show fenced Markdown."""
    words = [w.removeprefix("lang:") for w in _words(args)]
    language = next((w for w in words if re.fullmatch(r"[A-Za-z][\w+#-]*", w)), "")
    language = "" if language.lower() in ("linenos", "lang") else language
    fence = "`" * max([3] + [len(run) + 1 for run in _BACKTICKS.findall(code)])
    return f"\n{fence}{language}\n{code.strip(chr(10))}\n{fence}\n"


def _quoted(body: str) -> str:
    lines = body.strip("\n").split("\n")
    return "\n\n" + "\n".join(f"> {line}" if line.strip() else ">" for line in lines) + "\n\n"


def _quote_continued(text: str) -> str:
    """``text`` placed on a quoted line: the lines after its first are quoted too."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [f"> {line}" if line else ">" for line in rest])


def _tag(name: str, args: str) -> str:
    """One Hexo or Liquid tag (not a quote or code, handled before)."""
    words = _words(args)
    name = name.lower()
    if name.startswith("end"):
        return ""  # the closing marker of a tag whose content stays
    if name in ("post_link", "post_path"):
        return (" ".join(words[1:]) or (words[0] if words else "")) if name == "post_link" else ""
    if name in ("asset_img", "img", "image"):  # [class…] path [width [height]] [title]
        at = next((i for i, w in enumerate(words) if re.search(r"[./]", w)), 0)
        return _image([w for w in words[at:] if not _is_size(w)])
    if name in ("asset_link", "link"):
        return _link(words)
    if name in _VIDEO and words:
        return _video(name, words[0])
    if name == "iframe" and words:
        return f"<{words[0]}>" if words[0].startswith("http") else ""
    if name in ("asset_path", "include", "include_relative", "assign", "capture", "comment"):
        return ""
    return " ".join(w for w in words if not re.fullmatch(r"[\w.-]+=\S*|[\w/.-]+\.\w+", w))


def _shortcode(closing: str, name: str, args: str) -> str:
    if closing:
        return ""
    pairs = _pairs(args)
    words = [w for w in _words(args) if "=" not in w]
    name = name.lower()
    if name in _VIDEO:
        video = pairs.get("id") or (words[0] if words else "")
        return _video(name, video) if video else ""
    if name in ("figure", "img", "image"):
        title = pairs.get("caption") or pairs.get("title") or pairs.get("alt") or ""
        return _image([pairs.get("src", ""), title]) if pairs.get("src") else title
    if name == "gist" and len(words) >= 2:
        return f"<https://gist.github.com/{words[0]}/{words[1]}>"
    if name in ("tweet", "x") and words:
        return f"<https://x.com/i/status/{words[-1]}>"
    if name in ("ref", "relref"):
        return ""  # a link to another post: the link's own text stays
    return " ".join(v for v in (pairs.get("title"), pairs.get("caption")) if v)


def _variable(name: str, site_url: str | None) -> str:
    if name in _SITE_VARIABLES:
        return (site_url or "").rstrip("/")
    return ""


def _image(words: list[str]) -> str:
    if not words or not words[0]:
        return ""
    title = " ".join(words[1:]).strip("'\"")
    return f"![{title}]({words[0]})"


def _link(words: list[str]) -> str:
    if not words:
        return ""
    url, text = words[0], " ".join(words[1:]) or words[0]
    return f"[{text}]({url})" if url.startswith(("http://", "https://", "/")) else text


def _video(kind: str, video: str) -> str:
    url = _VIDEO[kind].format(video.strip("'\""))
    return f"\n\n🎬 <{url}>\n\n"


def _is_size(word: str) -> bool:
    return bool(re.fullmatch(r"\d+(px|%)?", word))


def _words(args: str) -> list[str]:
    try:
        return shlex.split(args)
    except ValueError:  # an unclosed quote: split on spaces
        return args.split()


def _pairs(args: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, double, single, bare in re.findall(r'([\w-]+)=(?:"([^"]*)"|\'([^\']*)\'|(\S+))', args):
        found[key.lower()] = double or single or bare
    return found
