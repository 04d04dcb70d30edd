"""`pmm prepare` as a library call: every case of a site into the cache, in parallel.

A case that fails is reported and skipped; the rest of the site goes on. Cases whose cache
signature still matches are reused unless `force` is set. The fingerprint is rewritten from
all cases cached now.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from pmm_core.config.site import SiteConfig
from pmm_core.data.cache import cached_meta, case_signature, remove_stale_temporaries, site_cache_dir, write_case
from pmm_core.data.case import CaseFiles
from pmm_core.data.fingerprint import build_fingerprint, write_fingerprint
from pmm_core.data.preprocess.pipeline import preprocess_case
from pmm_core.data.readers import discover_cases, load_case
from pmm_core.data.records import CaseMeta, SiteFingerprint
from pmm_core.data.split import freeze_split
from pmm_core.errors import CaseError


@dataclass
class PrepareSummary:
    site: str
    site_dir: Path
    prepared: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    fingerprint: SiteFingerprint | None = None  # None when no case could be prepared

    @property
    def num_cases(self) -> int:
        return len(self.prepared) + len(self.reused)


def _limit_threads(threads: int) -> None:
    """Each worker process gets its share of the cores (torch and ITK both default to all)."""
    import SimpleITK as sitk
    import torch

    torch.set_num_threads(threads)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)


def prepare_one(site: SiteConfig, source: CaseFiles, site_dir: Path, signature: str) -> CaseMeta:
    """Load, preprocess and cache one case; returns its meta. Runs in a worker process."""
    record = load_case(source, site)
    prepared = preprocess_case(record, site.preprocessing)
    return write_case(site_dir, prepared, signature)


def _safe_prepare(site: SiteConfig, source: CaseFiles, site_dir: Path, signature: str) -> tuple[str, Any]:
    try:
        return "ok", prepare_one(site, source, site_dir, signature)
    except CaseError as exc:
        return "failed", str(exc)
    except Exception as exc:  # one bad case must not stop the site; report what happened
        return "failed", f"case {source.case_id}: unexpected {type(exc).__name__}: {exc}"


def prepare_site(
    site: SiteConfig,
    cache_root: Path,
    workers: int = 1,
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> PrepareSummary:
    site_dir = site_cache_dir(cache_root, site.name)
    site_dir.mkdir(parents=True, exist_ok=True)
    with _only_prepare(site_dir, site.name, log):
        return _prepare_site(site, site_dir, workers, force, progress, log)


@contextmanager
def _only_prepare(site_dir: Path, name: str, log: Callable[[str], None]) -> Iterator[None]:
    """One `pmm prepare` of a site at a time: a second one waits (it would delete the first one's
    temporary case folders as leftovers of a killed run). The lock is released by the system when
    its holder dies, so a killed prepare never blocks the next."""
    lock = FileLock(str(site_dir / ".prepare.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"waiting for another `pmm prepare` of site {name} to finish ({site_dir})")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _prepare_site(site: SiteConfig, site_dir: Path, workers: int, force: bool, progress: bool,
                  log: Callable[[str], None]) -> PrepareSummary:
    remove_stale_temporaries(site_dir)
    sources, problems = discover_cases(site)
    summary = PrepareSummary(site=site.name, site_dir=site_dir, failed=list(problems))
    for case_id, reason in problems:
        log(f"skipped {case_id}: {reason}")

    metas: dict[str, CaseMeta] = {}
    todo: list[tuple[CaseFiles, str]] = []
    options = site.preprocessing
    for source in sources:
        signature = case_signature(source, options)
        meta = None if force else cached_meta(site_dir, source.case_id, signature)
        if meta is not None:
            summary.reused.append(source.case_id)
            metas[source.case_id] = meta
        else:
            todo.append((source, signature))

    bar = tqdm(total=len(todo), desc=f"prepare {site.name}", unit="case", disable=not progress or not todo)
    workers = max(1, min(workers, len(todo) or 1))

    def record(source: CaseFiles, status: str, value: Any) -> None:
        if status == "ok":
            summary.prepared.append(source.case_id)
            metas[source.case_id] = value
        else:
            summary.failed.append((source.case_id, value))
            message = f"skipped {source.case_id}: {value}"
            if progress:
                bar.write(message)  # above the bar, not through it
            else:
                log(message)
        bar.update(1)

    if workers == 1:
        for source, signature in todo:
            record(source, *_safe_prepare(site, source, site_dir, signature))
    else:
        threads = max(1, (os.cpu_count() or 1) // workers)
        context = multiprocessing.get_context("spawn")
        died = ("failed", "a preparation process died before this case was done (killed for lack of memory?); "
                "cases already cached are kept: run `pmm prepare` again, with fewer --workers")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_limit_threads, initargs=(threads,)) as pool:
            futures, unsent = {}, []
            for source, signature in todo:
                try:
                    futures[pool.submit(_safe_prepare, site, source, site_dir, signature)] = source
                except (BrokenProcessPool, ValueError):  # a worker died while the cases were still being
                    # handed out; if it died while the pool was starting its next worker, CPython's spawn
                    # finds the pool's pipes already closed and says ValueError ("bad value(s) in fds_to_keep")
                    unsent.append(source)
            for future in as_completed(futures):
                try:
                    record(futures[future], *future.result())
                except BrokenProcessPool:  # a worker was killed (the kernel's OOM killer, say): every
                    record(futures[future], *died)  # case not yet done fails by name; the cached ones stay
            for source in unsent:
                record(source, *died)
    bar.close()

    if metas:
        split = freeze_split(site, site_dir, sorted(metas), log)
        summary.fingerprint = build_fingerprint(site, [metas[case_id] for case_id in sorted(metas)], split)
        write_fingerprint(site_dir, summary.fingerprint)
    return summary
