"""Rigid mutual-information registration recovers a known subject motion between modalities."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pmm_core.data.nifti_io import LPS_FROM_RAS, read_volume
from pmm_core.data.preprocess.grid import reorient_axial
from pmm_core.data.preprocess.registration import identity_transform, register_rigid
from synthetic import rigid_matrix, write_modality

TOLERANCE_MM = 1.5  # half a 3 mm pixel; the slices are 5.5 and 6.5 mm thick


def _mean_error_mm(transform, motion: np.ndarray) -> float:
    """Mean distance between estimated and true fixed→moving mapping over points in the brain."""
    inverse = np.linalg.inv(motion)
    points = np.random.default_rng(0).uniform(-50, 50, (300, 3))
    errors = []
    for point in points:
        truth = inverse[:3, :3] @ point + inverse[:3, 3]
        estimate = LPS_FROM_RAS @ np.array(transform.TransformPoint(tuple(LPS_FROM_RAS @ point)))
        errors.append(np.linalg.norm(estimate - truth))
    return float(np.mean(errors))


def test_registration_recovers_a_known_rigid_offset(tmp_path: Path) -> None:
    motion = rigid_matrix((3.0, -2.0, 4.0), (5.0, -4.0, 3.0))  # 3-4 degrees and 7 mm
    write_modality(tmp_path / "t1.nii.gz", "T1", shape=(64, 72, 28), spacing=(3, 3, 5.5), rotation_deg=(0, 0, 8))
    write_modality(tmp_path / "t2.nii.gz", "T2", shape=(56, 64, 24), spacing=(3.5, 3.5, 6.5),
                   rotation_deg=(5, 0, -6), subject_motion=motion)
    fixed = reorient_axial(read_volume(tmp_path / "t1.nii.gz"))
    moving = read_volume(tmp_path / "t2.nii.gz")
    before = _mean_error_mm(identity_transform(), motion)
    after = _mean_error_mm(register_rigid(fixed, moving), motion)
    print(f"registration error: {before:.2f} mm before, {after:.2f} mm after")
    assert before > 5.0
    assert after < TOLERANCE_MM, f"registration error {after:.2f} mm (was {before:.2f} mm unregistered)"
