"""Fixtures: small real sites in each layout, written to a temporary folder."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import rigid_matrix, write_label, write_modality  # noqa: E402

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

PMM = str(Path(sys.executable).parent / "pmm")

# test-size preprocessing: 32x32 crops at 6 mm pixels, no deepbet (tested on its own)
TEST_PREPROCESS = "crop_size = 32\nin_plane_spacing = 6.0\n"


def tiny_training_config(epochs: int) -> str:
    """A training TOML for a model small enough to train in seconds on the test sites."""
    return (f"epochs = {epochs}\nbatch_size = 4\n[model]\nbase_channels = 8\nresidual_blocks = 1\n"
            "embedding_dim = 16\nmodulation_hidden = 16\nencoding_dim = 16\ndiscriminator_channels = 8\n"
            "discriminator_layers = 2\n")


def run_pmm(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real `pmm` console script in a subprocess."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([PMM, *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=600)


def write_site_toml(root: Path, name: str, text: str) -> Path:
    toml = root / "sites" / f"{name.lower()}.toml"
    toml.parent.mkdir(parents=True, exist_ok=True)
    toml.write_text(text)
    return toml


def write_generic_site(root: Path, cases: int = 3, name: str = "GEN", dataset_id: int = 5) -> Path:
    """In-house style: one folder per case, thick oblique slices, each modality moved a little."""
    data = root / "data" / name
    for index in range(cases):
        case = data / f"case{index:02d}"
        write_modality(case / f"case{index:02d}_T1.nii.gz", "T1", seed=index)
        motion = rigid_matrix((2.0, 0.0, -3.0), (3.0, -2.0, 2.0))
        write_modality(case / f"case{index:02d}_T2.nii.gz", "T2", shape=(36, 44, 18), spacing=(4.5, 4.5, 8.0),
                       rotation_deg=(0, 0, 3), subject_motion=motion, seed=index)
        if index != 1:  # case01 misses FLAIR: two availability patterns
            write_modality(case / f"case{index:02d}_FLAIR.nii.gz", "FLAIR", seed=index)
        write_label(case / f"case{index:02d}_seg.nii.gz")
    return write_site_toml(
        root, name,
        f'name = "{name}"\ndataset_id = {dataset_id}\nroot = "../data/{name}"\nlayout = "generic"\n'
        'modalities = ["T1", "T2", "FLAIR"]\nlabel = "*_seg.nii.gz"\n\n'
        '[files]\nT1 = "*_T1.nii.gz"\nT2 = "*_T2.nii.gz"\nFLAIR = "*_FLAIR.nii.gz"\n\n'
        f"[preprocess]\nregister = true\nskull_strip = false\n{TEST_PREPROCESS}",
    )


def write_brats_site(root: Path, cases: int = 3) -> Path:
    """BraTS: co-registered, brain only; case 0 uses 2023 names, the rest 2019-2021 names."""
    data = root / "data" / "BraTS"
    grid = dict(shape=(40, 48, 30), spacing=(4.0, 4.0, 4.0), rotation_deg=(0, 0, 0))
    for index in range(cases):
        if index == 0:
            case = data / "BraTS-GLI-00000-000"
            names = {"T1": "t1n", "T1C": "t1c", "T2": "t2w", "FLAIR": "t2f", "seg": "seg"}
            sep = "-"
        else:
            case = data / f"BraTS2021_{index:05d}"
            names = {"T1": "t1", "T1C": "t1ce", "T2": "t2", "FLAIR": "flair", "seg": "seg"}
            sep = "_"
        for modality in ("T1", "T2", "T1C", "FLAIR"):
            write_modality(case / f"{case.name}{sep}{names[modality]}.nii.gz", modality, seed=index, **grid)
        write_label(case / f"{case.name}{sep}seg.nii.gz", **grid)
    return write_site_toml(
        root, "brats",
        'name = "BraTS"\ndataset_id = 2\nroot = "../data/BraTS"\nlayout = "brats"\n'
        f'modalities = ["T1", "T2", "T1C", "FLAIR"]\n\n[preprocess]\n{TEST_PREPROCESS}',
    )


def write_isles_site(root: Path, cases: int = 3) -> Path:
    """ISLES'22 BIDS: DWI/ADC on one grid, FLAIR on its own finer grid, masks in derivatives."""
    data = root / "data" / "ISLES"
    dwi_grid = dict(shape=(36, 40, 16), spacing=(5.0, 5.0, 9.0), rotation_deg=(0, 0, 0))
    for index in range(cases):
        subject, session = f"sub-strokecase{index:04d}", "ses-0001"
        base = data / "rawdata" / subject / session
        stem = f"{subject}_{session}"
        write_modality(base / "dwi" / f"{stem}_dwi.nii.gz", "DWI", seed=index, **dwi_grid)
        write_modality(base / "dwi" / f"{stem}_adc.nii.gz", "ADC", seed=index, **dwi_grid)
        flair_name = f"{stem}_FLAIR.nii.gz" if index % 2 == 0 else f"{stem}_flair.nii.gz"
        write_modality(base / "anat" / flair_name, "FLAIR", shape=(44, 52, 20), spacing=(4.0, 4.0, 7.0),
                       rotation_deg=(0, 0, 5), subject_motion=rigid_matrix((0, 2, 0), (2, 1, -2)), seed=index)
        write_label(data / "derivatives" / subject / session / f"{stem}_msk.nii.gz", **dwi_grid)
    return write_site_toml(
        root, "isles",
        'name = "ISLES"\ndataset_id = 3\nroot = "../data/ISLES"\nlayout = "isles2022"\n'
        f'modalities = ["FLAIR", "DWI", "ADC"]\n\n[preprocess]\n{TEST_PREPROCESS}',
    )


@pytest.fixture
def generic_site(tmp_path: Path) -> Path:
    return write_generic_site(tmp_path)


@pytest.fixture
def brats_site(tmp_path: Path) -> Path:
    return write_brats_site(tmp_path)


@pytest.fixture
def isles_site(tmp_path: Path) -> Path:
    return write_isles_site(tmp_path)


@pytest.fixture(scope="session")
def prepared_sites(tmp_path_factory) -> Path:
    """Generic, BraTS and ISLES sites prepared once into one cache root (shared, read-only)."""
    from pmm_core.config.site import load_site
    from pmm_core.data.prepare_site import prepare_site

    root = tmp_path_factory.mktemp("prepared")
    cache = root / "cache"
    for toml in (write_generic_site(root), write_brats_site(root), write_isles_site(root)):
        summary = prepare_site(load_site(toml), cache, workers=1, progress=False, log=lambda _: None)
        assert not summary.failed, summary.failed
    return cache
