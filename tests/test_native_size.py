"""The user path at native size, as a hospital runs it: full-size phantom scans (TTG: six series
at 192-512 matrices with thick oblique slices, each moved a few mm; ISLES'22: FLAIR on its own
grid) → `pmm prepare` (registration, deepbet, 192x192 crops at 1 mm) → a few training steps of a
tiny model → `pmm synthesize --cohort` of one missing modality per case, on the input's grid."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from conftest import mlflow_store, run_pmm, tiny_training_config
from pmm_core.phantom.federation import case_id_for, case_paths, site_toml, write_case
from pmm_core.phantom.generator import CaseSynthesizer
from pmm_core.phantom.sites import SITES

SITE = {s.name: s for s in SITES}
MISSING = {"TTG": ("FLAIR", "T1"), "ISLES": ("DWI", "FLAIR")}  # site → (removed modality, reference)


@pytest.fixture(scope="module")
def native_sites(tmp_path_factory) -> Path:
    """One full-size case of TTG and of ISLES in their native layouts, with full-size site TOMLs."""
    root = tmp_path_factory.mktemp("native")
    for name in MISSING:
        site = SITE[name]
        rng = np.random.default_rng([0, site.dataset_id])
        case = CaseSynthesizer(site, 1, False, rng).make(case_id_for(site, 0), site.modalities)
        write_case(site, root / site.name, case, 0)
        toml = root / "sites" / f"{site.name.lower()}.toml"
        toml.parent.mkdir(exist_ok=True)
        toml.write_text(site_toml(site, test_size=False))
    return root


def test_native_size_prepare_train_and_cohort_synthesis(native_sites: Path, tmp_path: Path) -> None:
    env = {"PMM_SITES_DIR": str(native_sites / "sites"), "PMM_CACHE_DIR": str(tmp_path / "cache")}
    for name in MISSING:
        prepared = run_pmm("prepare", "--site", name, "--workers", "1", "--quiet", env=env)
        assert prepared.returncode == 0, prepared.stdout + prepared.stderr
        meta = json.loads(next((tmp_path / "cache" / name / "cases").glob("*/meta.json")).read_text())
        assert meta["shape"][2:] == [192, 192] and meta["geometry"]["spacing"][:2] == [1.0, 1.0]

    config = tmp_path / "tiny.toml"
    config.write_text(tiny_training_config(1))
    trained = run_pmm("train-central", "--sites", "TTG,ISLES", "--config", str(config), "--max-steps", "3",
                      "--run-dir", str(tmp_path / "run"), "--tracking-uri", mlflow_store(tmp_path / "mlflow.db"),
                      "--quiet", env=env)
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-2000:]
    checkpoint = tmp_path / "run" / "last.pt"
    assert checkpoint.is_file()

    for name, (missing, reference) in MISSING.items():
        site = SITE[name]
        cohort = tmp_path / "cohort" / name
        shutil.copytree(native_sites / name, cohort)
        case_id = case_id_for(site, 0)
        files = case_paths(site, cohort, case_id, 0)
        files[missing].unlink()
        out = tmp_path / "filled" / name
        result = run_pmm("synthesize", "--checkpoint", str(checkpoint), "--site", name, "--cohort", str(cohort),
                         "--target", missing, "--out", str(out), "--quiet", env=env)
        assert result.returncode == 0 and "1 written" in result.stdout, result.stdout + result.stderr
        written = nib.load(str(out / case_id / f"{case_id}_{missing}_synthetic.nii.gz"))
        acquired = nib.load(str(files[reference]))
        assert written.shape == acquired.shape and np.allclose(written.affine, acquired.affine, atol=1e-4)
        assert acquired.shape[0] >= 256  # native in-plane size, not the 192 crop
        assert np.isfinite(written.get_fdata()).all() and bytes(written.header["descrip"]).startswith(b"SYNTHETIC")
