"""Article folders as a source of notices: the files that changed since the ledger
last saw them, read and parsed, many at once in worker processes (spawn, one per
core) while the scanner saves what they read."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TypeVar

from bot.config import Config
from bot.reading.articles import ArticleError, content_hash, load_article, read_inside
from bot.reading.identity import path_id
from bot.sources import ReadFile, read_file

log = logging.getLogger(__name__)

PARALLEL_FROM = 400  # files to read before worker processes pay for their start
MAX_WORKERS = 4  # a container's CPU quota is not in its affinity: stay modest
ToRead = tuple[str, Path, os.stat_result]
T = TypeVar("T")
ChunkReader = Callable[[list[tuple[str, Path]], Config], list[T]]  # (path, its folder)


def read_files(
    chunks: list[list[ToRead]],
    config: Config,
    read: ChunkReader[T],
    parallel_from: int = PARALLEL_FROM,
) -> Iterator[list[T]]:
    """The chunks' files read and parsed (by ``read``, a module-level function), in
    order, without holding the ledger.

    Many files are read by worker processes, one per core, while this process
    saves (or shows) what they read: parsing is two thirds of a first scan, and one
    process uses one core. A few chunks run ahead, not all: memory stays small.
    """
    workers = min(_cores(), MAX_WORKERS)
    if workers < 2 or sum(map(len, chunks)) < parallel_from:
        for chunk in chunks:
            yield read(_files(chunk), config)
        return
    pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),  # no fork of a threaded process
        initializer=_start_worker,
        initargs=(config,),
    )
    ahead: deque[tuple[list[ToRead], Future[list[T]] | None]] = deque()
    try:
        for chunk in chunks:
            ahead.append((chunk, pool.submit(_in_worker, read, _files(chunk)) if pool else None))
            while ahead and (len(ahead) > 2 * workers or chunk is chunks[-1]):
                done, future = ahead.popleft()
                try:
                    result = future.result() if future else None
                except BrokenProcessPool as error:
                    log.warning(
                        "scan workers failed (%s); this process reads the rest. (A script"
                        " that scans needs `if __name__ == '__main__':`.)",
                        error.__cause__ or error,
                    )
                    if pool:
                        pool.shutdown(wait=False, cancel_futures=True)
                    pool, result = None, None
                    ahead = deque((waiting, None) for waiting, _ in ahead)
                yield result if result is not None else read(_files(done), config)
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)


_worker_config: Config | None = None


def _start_worker(config: Config) -> None:
    """A worker keeps the scan's config; a Ctrl-C is the parent's to handle (a terminal
    sends it to every process of the group, and a worker would print a traceback)."""
    global _worker_config
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_config = config


def _in_worker(read: ChunkReader[T], files: list[tuple[str, Path]]) -> list[T]:
    assert _worker_config is not None, "a worker starts with the scanner's config"
    return read(files, _worker_config)


def read_chunk(files: list[tuple[str, Path]], config: Config) -> list[ReadFile | ArticleError]:
    """The scanner's reading: each file as the row it saves, or why it is no article."""
    read: list[ReadFile | ArticleError] = []
    home = config.articles[0] if config.articles else None
    for path, root in files:
        try:
            article = load_article(Path(path), root, config)
        except ArticleError as error:
            read.append(error)
            continue
        read.append(read_file(article, article.id == path_id(Path(path), root, home)))
    return read


def contents(files: list[ToRead], config: Config) -> dict[str, str]:
    """Each file's content hash (the one its article gets), without parsing: where a
    known file's old content went tells a rename from a reused name. Unreadable
    files are left out."""
    hashes = {}
    for path, root, _ in files:
        try:
            raw, _ = read_inside(Path(path), root, config.max_file_bytes)
        except ArticleError:
            continue
        hashes[path] = content_hash(raw)
    return hashes


def _files(chunk: list[ToRead]) -> list[tuple[str, Path]]:
    return [(path, root) for path, root, _ in chunk]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
