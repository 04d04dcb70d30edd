"""Case-level train/val/test split, drawn once and then frozen: every case in exactly one split.

Splitting by case (not by slice) keeps neighbouring slices of one patient out of both training
and evaluation. The first `pmm prepare` of a site draws a seeded split (with three or more
cases, val and test each get at least one) and writes it to the cache as `splits.json`, nnU-Net's
`splits_final.json` in spirit. Every later prepare starts from that file: a case keeps its split
for the life of the site, a new case goes to the split furthest below its share, and a case
missing this time stays in the file, so it returns to its own split and the others never move.
Were the split redrawn instead, one added case would move test cases into train, and a
checkpoint trained before would be scored on cases it trained on.
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Callable

from pmm_core.config.site import SiteConfig, SplitOptions
from pmm_core.data.cache import write_json_atomic
from pmm_core.errors import PmmError

SPLITS = ("train", "val", "test")
SPLITS_NAME = "splits.json"


def assign_splits(case_ids: list[str], options: SplitOptions) -> dict[str, list[str]]:
    """A fresh seeded draw of `case_ids` (the first prepare of a site)."""
    ordered = sorted(case_ids)
    random.Random(options.seed).shuffle(ordered)
    count = len(ordered)
    n_val = round(options.val_fraction * count)
    n_test = round(options.test_fraction * count)
    if count >= 3:
        n_val = max(n_val, 1 if options.val_fraction > 0 else 0)
        n_test = max(n_test, 1 if options.test_fraction > 0 else 0)
    n_val = min(n_val, max(count - 1, 0))
    n_test = min(n_test, max(count - 1 - n_val, 0))
    return {
        "val": sorted(ordered[:n_val]),
        "test": sorted(ordered[n_val:n_val + n_test]),
        "train": sorted(ordered[n_val + n_test:]),
    }


def extend_splits(known: dict[str, list[str]], case_ids: list[str], options: SplitOptions) -> dict[str, list[str]]:
    """`known` with every case of `case_ids` it lacks added, none of its own moved.

    A new case (in a seeded order) joins the split whose count is furthest below its share of
    all cases so far (train on a tie), so the fractions hold as a site grows; from three cases
    on an empty val or test split is filled first. With nothing known
    yet this is `assign_splits`."""
    if not any(known.values()):
        return assign_splits(case_ids, options)
    splits = {name: list(known.get(name, [])) for name in SPLITS}
    seen = {case for cases in splits.values() for case in cases}
    new = sorted(set(case_ids) - seen)
    random.Random(options.seed).shuffle(new)
    shares = {"train": 1 - options.val_fraction - options.test_fraction, "val": options.val_fraction,
              "test": options.test_fraction}
    for case in new:
        total = sum(len(cases) for cases in splits.values()) + 1
        empty = [name for name in ("test", "val") if shares[name] > 0 and not splits[name]]
        # from three cases on val and test hold one each, as in a first draw (a site that began too small)
        chosen = empty[0] if total >= 3 and empty else \
            max(SPLITS, key=lambda name: shares[name] * total - len(splits[name]))
        splits[chosen].append(case)
    return {name: sorted(cases) for name, cases in splits.items()}


def read_split_file(path: Path) -> dict[str, list[str]]:
    """A split file ({"train": [...], "val": [...], "test": [...]}); one line naming the file and
    the problem when it is not one, or when a case is in two splits."""
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as exc:
        raise PmmError(f"{path}: cannot read the split file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise PmmError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(raw, dict) or set(raw) - set(SPLITS) or \
            not all(isinstance(v, list) and all(isinstance(c, str) for c in v) for v in raw.values()):
        raise PmmError(f"{path}: a split file is a JSON object with lists of case ids under train, val and test")
    where: dict[str, str] = {}
    for name, cases in raw.items():
        for case in cases:
            if case in where:
                raise PmmError(f"{path}: case {case} is in both {where[case]} and {name}; a case belongs to one split")
            where[case] = name
    return {name: list(raw.get(name, [])) for name in SPLITS}


def present_split(frozen: dict[str, list[str]], case_ids: list[str]) -> dict[str, list[str]]:
    """The frozen split restricted to the cases prepared now (what training and evaluation read)."""
    present = set(case_ids)
    return {name: [c for c in frozen.get(name, []) if c in present] for name in SPLITS}


def freeze_split(site: SiteConfig, site_dir: Path, case_ids: list[str],
                 log: Callable[[str], None] = print) -> dict[str, list[str]]:
    """The split of the cases prepared now, from the site's own split file (`[split] file`) or the
    cache's `splits.json` extended by the new cases; writes the extended split back to the cache."""
    stored = Path(site_dir) / SPLITS_NAME
    source = site.split.file if site.split.file is not None else stored
    known = read_split_file(source) if source.is_file() or source == site.split.file else {}
    frozen = extend_splits(known, case_ids, site.split)
    if any(known.values()):
        added = {name: len(frozen[name]) - len(known[name]) for name in SPLITS}
        if sum(added.values()):
            log(f"split: {sum(added.values())} new case(s) assigned from {source.name} without moving the others ("
                + ", ".join(f"{name} +{count}" for name, count in added.items() if count) + ")")
        absent = sorted({c for cases in frozen.values() for c in cases} - set(case_ids))
        if absent:
            log(f"split: {len(absent)} case(s) of {source.name} not prepared this time keep their split: "
                + ", ".join(absent[:5]) + (" ..." if len(absent) > 5 else ""))
    write_json_atomic(stored, frozen)
    return present_split(frozen, case_ids)
