"""Small real NIfTI heads for tests, written with nibabel into a temporary folder.

The head is an analytic function of world (RAS, mm) coordinates: scalp, skull, grey-matter
shell, white matter, two ventricles and a lesion, with soft edges. Because it is analytic, a
modality can be written on any grid (own spacing, oblique affine) and with a known rigid offset
of the subject, which is what the registration test needs to measure recovery in millimetres.
"""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

# tissue -> intensity per modality (arbitrary scanner units, scaled per modality below)
CONTRAST = {
    "T1":    {"wm": 0.95, "gm": 0.60, "csf": 0.15, "lesion": 0.45, "skull": 0.10, "scalp": 0.85},
    "T2":    {"wm": 0.35, "gm": 0.55, "csf": 0.95, "lesion": 0.80, "skull": 0.05, "scalp": 0.50},
    "T1C":   {"wm": 0.90, "gm": 0.60, "csf": 0.15, "lesion": 0.98, "skull": 0.10, "scalp": 0.85},
    "FLAIR": {"wm": 0.45, "gm": 0.60, "csf": 0.05, "lesion": 0.95, "skull": 0.05, "scalp": 0.70},
    "DWI":   {"wm": 0.50, "gm": 0.55, "csf": 0.10, "lesion": 0.98, "skull": 0.02, "scalp": 0.20},
    "ADC":   {"wm": 0.35, "gm": 0.40, "csf": 0.95, "lesion": 0.10, "skull": 0.02, "scalp": 0.20},
}
SCALE = {"T1": 900.0, "T2": 1500.0, "T1C": 1100.0, "FLAIR": 700.0, "DWI": 400.0, "ADC": 2000.0}


def _ellipsoid(points: np.ndarray, center, radii, softness: float = 1.5) -> np.ndarray:
    """Soft membership (0..1) of points in an ellipsoid, edge width about `softness` mm."""
    scaled = (points - np.asarray(center)) / np.asarray(radii)
    distance = (np.sqrt((scaled ** 2).sum(-1)) - 1.0) * min(radii)
    return 1.0 / (1.0 + np.exp(np.clip(distance / softness, -50, 50)))


def tissues(points: np.ndarray, lesion_radius: float = 12.0) -> dict[str, np.ndarray]:
    """Exclusive soft tissue fractions at RAS points (N, 3)."""
    head = _ellipsoid(points, (0, 0, 0), (78, 95, 80))
    skull_outer = _ellipsoid(points, (0, 0, 0), (72, 89, 74))
    brain = _ellipsoid(points, (0, 0, 0), (64, 80, 66))
    white = _ellipsoid(points, (0, 0, 0), (52, 67, 54))
    ventricles = np.maximum(_ellipsoid(points, (-12, 5, 8), (7, 22, 10)), _ellipsoid(points, (12, 5, 8), (7, 22, 10)))
    lesion = _ellipsoid(points, (28, -20, 18), (lesion_radius,) * 3)
    out = {}
    out["lesion"] = brain * lesion
    rest = brain * (1 - lesion)
    out["csf"] = rest * ventricles
    rest = rest * (1 - ventricles)
    out["wm"] = rest * white
    out["gm"] = rest * (1 - white)
    out["skull"] = skull_outer * (1 - brain)
    out["scalp"] = head * (1 - skull_outer)
    return out


def rigid_matrix(rotation_deg=(0.0, 0.0, 0.0), translation=(0.0, 0.0, 0.0)) -> np.ndarray:
    """4x4 RAS rigid transform: rotations about x, y, z (degrees), then translation (mm)."""
    ax, ay, az = np.deg2rad(rotation_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    matrix = np.eye(4)
    matrix[:3, :3] = rz @ ry @ rx
    matrix[:3, 3] = translation
    return matrix


def grid_affine(shape, spacing, rotation_deg=(0.0, 0.0, 0.0)) -> np.ndarray:
    """An affine centring a grid on the head, with axes rotated (an oblique acquisition)."""
    rotation = rigid_matrix(rotation_deg)[:3, :3]
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(spacing)
    center = (np.asarray(shape) - 1) / 2.0
    affine[:3, 3] = -affine[:3, :3] @ center
    return affine


def sample_modality(modality: str, shape, affine, subject_motion: np.ndarray | None = None,
                    noise: float = 0.01, seed: int = 0, label: bool = False, lesion_radius: float = 12.0,
                    brain_only: bool = False) -> np.ndarray:
    """Voxel values on a grid; `subject_motion` (4x4) moves where anatomy sits in world space;
    `brain_only` leaves skull and scalp out (a skull-stripped image, as BraTS ships)."""
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).reshape(-1, 3)
    world = ijk @ affine[:3, :3].T + affine[:3, 3]
    if subject_motion is not None:
        world = world @ subject_motion[:3, :3].T + subject_motion[:3, 3]
    fractions = tissues(world, lesion_radius)
    if brain_only:
        fractions = {t: f for t, f in fractions.items() if t not in ("skull", "scalp")}
    if label:
        return (fractions["lesion"] > 0.5).reshape(shape).astype(np.uint8)
    values = sum(CONTRAST[modality][t] * f for t, f in fractions.items())
    rng = np.random.default_rng(seed)
    values = values + noise * rng.standard_normal(values.shape)
    if brain_only:
        values = np.where(sum(fractions.values()) > 0.5, values, 0.0)
    return (np.clip(values, 0, None) * SCALE[modality]).reshape(shape).astype(np.float32)


def write_volume(path: Path, data: np.ndarray, affine: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def write_modality(path: Path, modality: str, shape=(40, 48, 20), spacing=(4.0, 4.0, 7.0),
                   rotation_deg=(0.0, 0.0, 8.0), subject_motion=None, seed=0) -> Path:
    affine = grid_affine(shape, spacing, rotation_deg)
    return write_volume(path, sample_modality(modality, shape, affine, subject_motion, seed=seed), affine)


def write_label(path: Path, shape=(40, 48, 20), spacing=(4.0, 4.0, 7.0), rotation_deg=(0.0, 0.0, 8.0)) -> Path:
    affine = grid_affine(shape, spacing, rotation_deg)
    return write_volume(path, sample_modality("T1", shape, affine, label=True), affine)
