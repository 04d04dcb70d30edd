"""Preprocessing output, the cache and its reuse, the fingerprint and the split."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import run_pmm
from pmm_core.config.site import load_site
from pmm_core.data.cache import open_case_arrays
from pmm_core.data.case_volume import load_case_volume
from pmm_core.data.nifti_io import LPS_FROM_RAS
from pmm_core.data.prepare_site import prepare_site
from synthetic import CONTRAST, tissues


def test_cached_arrays_have_the_promised_shapes_and_range(prepared_sites: Path) -> None:
    for site, modalities in (("GEN", None), ("BraTS", 4), ("ISLES", 3)):
        fingerprint = json.loads((prepared_sites / site / "fingerprint.json").read_text())
        for case_id, info in fingerprint["cases"].items():
            image, mask = open_case_arrays(prepared_sites / site / "cases" / case_id)
            assert isinstance(image, np.memmap) and image.dtype == np.float16
            assert image.shape == (info["slices"], len(info["modalities"]), 32, 32)
            assert modalities is None or image.shape[1] == modalities
            assert mask.shape == (info["slices"], 32, 32) and set(np.unique(mask)) <= {0, 1}
            values = np.asarray(image, dtype=np.float32)  # anchor-relative: healthy tissue near 1
            assert values.min() >= 0.0 and 0.5 < float(np.median(values[:, 0][mask > 0])) < 2.0
            assert not (values * (1 - mask[:, None])).any()  # nothing outside the brain
            case = load_case_volume(prepared_sites / site, case_id, 0.0)
            assert case.volume.min() >= 0.0 and case.volume.max() <= 1.0  # standardized as read


def test_fingerprint_split_is_disjoint_and_complete(prepared_sites: Path) -> None:
    fingerprint = json.loads((prepared_sites / "GEN" / "fingerprint.json").read_text())
    split = fingerprint["split"]
    all_cases = split["train"] + split["val"] + split["test"]
    assert sorted(all_cases) == sorted(fingerprint["cases"]) and len(set(all_cases)) == len(all_cases)
    assert fingerprint["availability_patterns"] == {"T1+T2": 1, "T1+T2+FLAIR": 2}
    assert fingerprint["native_spacing"]["T2"] == [4.5, 4.5, 8.0]
    assert fingerprint["intensity"]["scheme"] == "tissue"
    assert set(fingerprint["intensity"]["modalities"]) == {"T1", "T2", "FLAIR"}


def test_labels_survive_resampling(prepared_sites: Path) -> None:
    for site in ("BraTS", "ISLES", "GEN"):
        case = sorted((prepared_sites / site / "cases").iterdir())[0]
        label = np.load(case / "label.npy")
        assert set(np.unique(label)) == {0, 1} and label.sum() > 5


def test_isles_label_follows_dwi_into_flair_space(prepared_sites: Path) -> None:
    """The lesion is bright on DWI: after preprocessing, DWI inside the label is high."""
    case = sorted((prepared_sites / "ISLES" / "cases").iterdir())[0]
    image, label = np.load(case / "image.npy").astype(np.float32), np.load(case / "label.npy")
    dwi = image[:, 1]
    assert dwi[label > 0].mean() > dwi[np.load(case / "mask.npy") > 0].mean() + 0.2


def _ideal_on_output_grid(modality: str, geometry: dict) -> np.ndarray:
    """The analytic phantom's modality sampled, without any subject motion, on the output grid."""
    size = geometry["size"]
    zyx = np.stack(np.meshgrid(*[np.arange(n) for n in size[::-1]], indexing="ij"), -1).reshape(-1, 3)
    direction = np.array(geometry["direction"]).reshape(3, 3)
    lps = (zyx[:, ::-1] * np.array(geometry["spacing"])) @ direction.T + np.array(geometry["origin"])
    values = sum(CONTRAST[modality][t] * f for t, f in tissues(lps @ LPS_FROM_RAS.T).items())
    return values.reshape(size[::-1])


def test_registration_aligns_the_moved_modality(prepared_sites: Path) -> None:
    """T2 was written with the subject moved 3-4 mm and 3 degrees; once prepared it matches the
    motion-free phantom on the T1 grid, far better than the same T2 without registration."""
    case = prepared_sites / "GEN" / "cases" / "case00"
    meta = json.loads((case / "meta.json").read_text())
    image, mask = np.load(case / "image.npy").astype(np.float32), np.load(case / "mask.npy") > 0
    ideal = _ideal_on_output_grid("T2", meta["geometry"])
    registered = np.corrcoef(image[:, 1][mask], ideal[mask])[0, 1]
    print(f"prepared T2 vs motion-free phantom: correlation {registered:.3f}")
    assert registered > 0.93, registered  # 0.97 measured; 0.76 with registration off
    assert np.abs(meta["transforms"]["T2"][3:]).max() > 1.5  # a real translation was found


def test_cache_is_reused_and_force_rebuilds(generic_site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = run_pmm("prepare", "--site", str(generic_site), "--cache-dir", str(cache), "--workers", "2")
    assert first.returncode == 0, first.stderr
    assert "site GEN: 3 cases (3 prepared, 0 reused from cache), 60 slices" in first.stdout
    assert "T1+T2+FLAIR: 2" in first.stdout and "split: train 1, val 1, test 1" in first.stdout
    assert "intensity: tissue scheme, learned on the training split" in first.stdout and "  FLAIR: " in first.stdout
    mtime = (cache / "GEN" / "cases" / "case00" / "image.npy").stat().st_mtime_ns
    second = run_pmm("prepare", "--site", str(generic_site), "--cache-dir", str(cache))
    assert "(0 prepared, 3 reused from cache)" in second.stdout
    assert (cache / "GEN" / "cases" / "case00" / "image.npy").stat().st_mtime_ns == mtime
    forced = run_pmm("prepare", "--site", str(generic_site), "--cache-dir", str(cache), "--force", "--quiet")
    assert "(3 prepared, 0 reused from cache)" in forced.stdout
    assert not list((cache / "GEN" / "cases").glob(".tmp-*"))


def test_changed_source_file_is_prepared_again(generic_site: Path, tmp_path: Path) -> None:
    site = load_site(generic_site)
    cache = tmp_path / "cache"
    prepare_site(site, cache, progress=False)
    touched = tmp_path / "data" / "GEN" / "case01" / "case01_T2.nii.gz"
    touched.write_bytes(touched.read_bytes())
    summary = prepare_site(site, cache, progress=False)
    assert summary.prepared == ["case01"] and sorted(summary.reused) == ["case00", "case02"]


def test_prepare_by_site_name_through_pmm_sites_dir(generic_site: Path, tmp_path: Path) -> None:
    result = run_pmm("prepare", "--site", "gen", "--quiet", cwd=tmp_path, env={"PMM_SITES_DIR": str(generic_site.parent)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "pmm_cache" / "GEN" / "fingerprint.json").is_file()


def test_a_second_prepare_of_a_site_waits_for_the_first(generic_site: Path, tmp_path: Path) -> None:
    """Two `pmm prepare` of one site at once: the second waits for the first's lock (it would
    otherwise delete the first's temporary case folders as a killed run's leftovers)."""
    import threading

    from filelock import FileLock

    cache, lines, done = tmp_path / "cache", [], threading.Event()
    (cache / "GEN").mkdir(parents=True)
    first = FileLock(str(cache / "GEN" / ".prepare.lock"))
    first.acquire()
    second = threading.Thread(target=lambda: (prepare_site(load_site(generic_site), cache, progress=False,
                                                           log=lines.append), done.set()))
    second.start()
    deadline = time.monotonic() + 30
    while not any(line.startswith("waiting for another `pmm prepare` of site GEN") for line in lines):
        assert time.monotonic() < deadline, lines
        time.sleep(0.05)
    assert not done.is_set()
    first.release()
    second.join(120)
    assert done.is_set() and (cache / "GEN" / "fingerprint.json").is_file()


def test_atomic_folder_replaces_a_folder_whole(tmp_path: Path) -> None:
    from pmm_core.atomic import atomic_folder

    target = tmp_path / "case"
    target.mkdir()
    (target / "old.npy").write_text("old")
    with atomic_folder(target) as temporary:
        (temporary / "new.npy").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.npy"] and list(tmp_path.iterdir()) == [target]
    with pytest.raises(RuntimeError), atomic_folder(target) as temporary:
        (temporary / "half.npy").write_text("half")
        raise RuntimeError("killed mid-write")
    assert sorted(p.name for p in target.iterdir()) == ["new.npy"] and list(tmp_path.iterdir()) == [target]


def _pool_workers(pid: int) -> list[int]:
    """`pid`'s child processes that are multiprocessing workers (not its resource tracker), from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
            except OSError:
                continue
    return found


def test_a_killed_preparation_worker_fails_its_cases_by_name_and_keeps_the_rest(tmp_path: Path) -> None:
    """The kernel kills a `pmm prepare` worker (as its OOM killer would): the cases it had not
    finished fail with a line saying what happened, the command still writes the fingerprint of
    what is cached, and a second run prepares only what is missing."""
    import os
    import signal
    import threading

    from conftest import write_generic_site

    site = load_site(write_generic_site(tmp_path, cases=4))
    cache, result = tmp_path / "cache", {}
    worker = threading.Thread(target=lambda: result.update(summary=prepare_site(site, cache, workers=2, progress=False,
                                                                               log=lambda _: None)))
    worker.start()
    deadline = time.monotonic() + 60
    while not (workers := _pool_workers(os.getpid())):
        assert time.monotonic() < deadline, "no preparation process started"
        time.sleep(0.02)
    os.kill(workers[0], signal.SIGKILL)   # while it starts or prepares its first case
    worker.join(300)
    summary = result["summary"]
    assert summary.failed and all("a preparation process died before this case was done" in reason
                                  for _, reason in summary.failed)
    assert (cache / "GEN" / "fingerprint.json").is_file() == bool(summary.prepared)
    again = prepare_site(site, cache, workers=1, progress=False, log=lambda _: None)
    assert not again.failed and sorted(again.reused) == sorted(summary.prepared)
