"""The split is drawn once and frozen: cases added or missing later move no other case, a user's
split file is honoured, and a checkpoint is never scored on cases it trained on."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import run_pmm
from pmm_core.config.site import SplitOptions, load_site
from pmm_core.data.fingerprint import load_fingerprint
from pmm_core.data.prepare_site import prepare_site
from pmm_core.data.split import SPLITS, assign_splits, extend_splits, present_split
from pmm_core.errors import PmmError


def _where(split: dict[str, list[str]]) -> dict[str, str]:
    return {case: name for name, cases in split.items() for case in cases}


def test_new_cases_are_assigned_without_moving_the_others() -> None:
    options = SplitOptions()
    cases = [f"case{i:03d}" for i in range(100)]
    first = assign_splits(cases, options)
    grown = extend_splits(first, cases + ["case100"], options)
    assert {c: s for c, s in _where(grown).items() if c != "case100"} == _where(first)
    assert assign_splits(cases + ["case100"], options) != first      # what redrawing would have done
    bigger = extend_splits(grown, cases + [f"new{i:02d}" for i in range(40)], options)
    assert all(_where(bigger)[c] == s for c, s in _where(grown).items())
    counts = {name: len(bigger[name]) for name in SPLITS}
    assert abs(counts["test"] - 0.2 * 141) <= 1 and abs(counts["val"] - 0.1 * 141) <= 1   # the shares hold
    assert extend_splits({}, cases, options) == first                  # nothing known: the seeded draw


def test_a_missing_case_leaves_the_others_where_they_were() -> None:
    cases = [f"case{i:02d}" for i in range(20)]
    frozen = assign_splits(cases, SplitOptions())
    gone = frozen["test"][0]
    now = present_split(extend_splits(frozen, [c for c in cases if c != gone], SplitOptions()),
                        [c for c in cases if c != gone])
    assert gone not in _where(now) and all(_where(frozen)[c] == s for c, s in _where(now).items())


def _add_case(site_toml: Path, source: str, new: str) -> None:
    data = load_site(site_toml).root
    shutil.copytree(data / source, data / new)
    for path in (data / new).iterdir():
        path.rename(path.with_name(path.name.replace(source, new)))


def test_prepare_keeps_the_split_when_cases_come_and_go(generic_site: Path, tmp_path: Path) -> None:
    site, cache, lines = load_site(generic_site), tmp_path / "cache", []
    first = prepare_site(site, cache, progress=False).fingerprint.split
    assert json.loads((cache / "GEN" / "splits.json").read_text()) == first
    _add_case(generic_site, "case02", "case03")
    second = prepare_site(site, cache, progress=False, log=lines.append).fingerprint.split
    assert {c: s for c, s in _where(second).items() if c != "case03"} == _where(first)
    assert "split: 1 new case(s) assigned from splits.json without moving the others (train +1)" in lines
    shutil.rmtree(site.root / "case00")
    third = prepare_site(site, cache, progress=False, log=lines.append).fingerprint.split
    assert "case00" not in _where(third) and all(_where(second)[c] == s for c, s in _where(third).items())
    assert "case00" in _where(json.loads((cache / "GEN" / "splits.json").read_text()))  # returns to its split
    assert lines[-1] == "split: 1 case(s) of splits.json not prepared this time keep their split: case00"


def test_a_split_file_of_ones_own_is_honoured_and_checked(generic_site: Path, tmp_path: Path) -> None:
    own = generic_site.parent / "gen_split.json"
    own.write_text(json.dumps({"train": ["case00", "case01"], "val": [], "test": ["case02"]}))
    generic_site.write_text(generic_site.read_text() + '\n[split]\nfile = "gen_split.json"\n')
    cache = tmp_path / "cache"
    result = run_pmm("prepare", "--site", str(generic_site), "--cache-dir", str(cache), "--quiet")
    assert result.returncode == 0, result.stderr
    assert load_fingerprint(cache / "GEN").split == {"train": ["case00", "case01"], "val": [], "test": ["case02"]}
    own.write_text(json.dumps({"train": ["case00", "case01"], "test": ["case01"]}))
    bad = run_pmm("prepare", "--site", str(generic_site), "--cache-dir", str(cache), "--quiet")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert f"{own}: case case01 is in both train and test; a case belongs to one split" in bad.stderr


def test_an_unreadable_split_file_is_one_line(tmp_path: Path) -> None:
    from pmm_core.data.split import read_split_file

    broken = tmp_path / "s.json"
    broken.write_text("{not json")
    with pytest.raises(PmmError, match=r"s.json: not valid JSON"):
        read_split_file(broken)
    broken.write_text(json.dumps({"training": ["a"]}))
    with pytest.raises(PmmError, match="lists of case ids under train, val and test"):
        read_split_file(broken)
