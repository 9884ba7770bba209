"""Parser benchmark: the whole preview of 2,000 corpus articles, against html2text
alone converting the same bodies, both as whole processes (start-up included).

``noticebot preview --json`` reads, parses, formats and prints every article;
html2text only converts each body's HTML to Markdown, with ``body_width=0`` (no
re-wrapping: its fastest setting). Target: ≤ 1.0×.

The bot's modules are byte-compiled first, as installing a package does (html2text's
were when pip installed it): where ``PYTHONDONTWRITEBYTECODE`` is set, an editable
checkout otherwise compiles every module from source at each start.
Run: ``make bench`` (or ``.venv/bin/python -m bench.preview [N]``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.scan import make_tree

ROOT = Path(__file__).resolve().parents[1]
HTML2TEXT_ALONE = """
import sys
from pathlib import Path
import frontmatter, html2text
for path in sorted(Path(sys.argv[1]).rglob("*.md")):
    post = frontmatter.loads(path.read_text(encoding="utf-8"))
    sys.stdout.write(html2text.html2text(post.content, bodywidth=0))
"""


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    work = Path(tempfile.mkdtemp(prefix="noticebot-preview-"))
    try:
        make_tree(work, count)
        subprocess.run([sys.executable, "-m", "compileall", "-q", "bot"], cwd=ROOT, check=True)
        ours = [sys.executable, "-m", "bot", "preview", "--json", str(work)]
        theirs = [sys.executable, "-c", HTML2TEXT_ALONE, str(work)]
        timed(ours)  # warm the file cache for both
        runs = [(timed(ours), timed(theirs)) for _ in range(3)]
        best_ours, best_theirs = min(r[0] for r in runs), min(r[1] for r in runs)
        print(f"preview of {count:,} corpus articles, whole processes, best of 3:")
        print(
            f"  noticebot preview --json {best_ours:.2f} s, html2text alone {best_theirs:.2f} s: "
            f"{best_ours / best_theirs:.2f}x (target ≤ 1.0x)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
