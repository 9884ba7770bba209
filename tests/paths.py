"""Where the test data lives: the shipped seed and corpus and, beside the checkout, the shared
corpus."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "2022-02-01-community-new-year-greetings.md"
SHIPPED_CORPUS = ROOT / "tests" / "corpus"  # real posts of the seed's family: SOURCES.md
SHARED_CORPUS = ROOT.parent / "shared" / "corpus"  # more of them, beside some checkouts


def corpus_files() -> list[tuple[Path, Path]]:
    """Each corpus post with its folder: the shipped ones (which must be there), then those
    of ../shared/corpus that are not the same bytes as a shipped one."""
    shipped = sorted(SHIPPED_CORPUS.glob("*.md"))
    shipped = [p for p in shipped if p.name != "SOURCES.md"]
    if not shipped:
        raise FileNotFoundError(f"the shipped corpus is missing: {SHIPPED_CORPUS}")
    seen = {p.read_bytes() for p in shipped}
    files = [(p, SHIPPED_CORPUS) for p in shipped]
    if SHARED_CORPUS.is_dir():
        for path in sorted(SHARED_CORPUS.glob("*.md")):
            if path.name != "README.md" and path.read_bytes() not in seen:
                files.append((path, SHARED_CORPUS))
    return files
