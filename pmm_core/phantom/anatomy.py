"""Subject anatomy: the ICBM152 2009 template (shipped in nilearn), warped per subject.

Tissue fractions at any world point are found by mapping the point into template space through
the subject's random smooth deformation (a coarse grid of displacements, cubic-interpolated) and
a global scale, then reading grey/white-matter probabilities and the brain mask. Skull, scalp and
dura are shells around the brain; veins are a fixed random web in the outer cortex plus the
superior sagittal sinus. All are built once per template resolution and machine, then
read back from the user's cache folder.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class TemplateMaps:
    affine: np.ndarray        # template voxel -> MNI mm (RAS)
    gm: np.ndarray
    wm: np.ndarray
    brain: np.ndarray         # soft brain mask
    bone: np.ndarray
    scalp: np.ndarray
    dura: np.ndarray
    vessel: np.ndarray


VESSEL_SEED = 152  # the venous web is part of the template, the same in every subject


def vessel_map(mask: np.ndarray, dura_shell: np.ndarray, affine: np.ndarray, mm: float) -> np.ndarray:
    """Cortical veins (thin ridges of a smooth random field, broken into segments, in the outer
    6 mm of the brain) and the superior sagittal sinus (the dura shell near the midline, on top)."""
    rng = np.random.default_rng(VESSEL_SEED)
    field = ndimage.gaussian_filter(rng.normal(size=mask.shape).astype(np.float32), 5.0 / mm)
    segments = ndimage.gaussian_filter(rng.normal(size=mask.shape).astype(np.float32), 8.0 / mm)
    ridge = np.exp(-(field / (0.12 * field.std())) ** 2) * (segments > 0.2 * segments.std())
    cortex = mask & ~ndimage.binary_erosion(mask, iterations=max(1, round(6 / mm)))
    x_mm = affine[0, 0] * np.arange(mask.shape[0]) + affine[0, 3]
    z_mm = affine[2, 2] * np.arange(mask.shape[2]) + affine[2, 3]
    sinus = dura_shell & (np.abs(x_mm)[:, None, None] < 5.0) & (z_mm[None, None, :] > 10.0)
    veins = ndimage.gaussian_filter((ridge * cortex).astype(np.float32), 0.5) * 0.7
    return np.maximum(veins, ndimage.gaussian_filter(sinus.astype(np.float32), 0.7))


def maps_cache_file(resolution: int) -> Path:
    """Where the maps of `resolution` are kept between processes: $PMM_TEMPLATE_CACHE, else the
    user's cache folder. The name records nilearn's version (its templates) and a hash of this
    file (the code that builds the maps), so an edit here or another nilearn never reads old maps."""
    from importlib.metadata import version

    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    # expanduser, not Path.home(): a process without a resolvable home gets "~" back instead of an error,
    # and a cache it cannot write is skipped
    root = os.environ.get("PMM_TEMPLATE_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")) / "pmm"
    return Path(root) / f"mni152-maps-{resolution}mm-nilearn{version('nilearn')}-{code}.npz"


@functools.lru_cache(maxsize=2)
def template_maps(resolution: int) -> TemplateMaps:
    """The maps of `resolution`, built once per machine and then read back (0.1-0.6 s instead of
    2-6 s per process: importing nilearn's datasets pulls in scikit-learn, and nilearn resamples
    its 1 mm templates to 2 mm with cubic splines). Every phantom process needs them, and
    `pmm phantom` and the test phantom start one process per site. A cache that cannot be read or
    written is rebuilt or skipped: the maps are the same either way, to the bit."""
    cached = maps_cache_file(resolution)
    fields = [field.name for field in dataclasses.fields(TemplateMaps)]
    try:
        with np.load(cached) as stored:
            return TemplateMaps(**{name: stored[name] for name in fields})
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        pass  # not built yet on this machine, or unreadable: build it
    maps = build_template_maps(resolution)
    partial = None
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".tmp", delete=False) as handle:
            partial = Path(handle.name)
            np.savez_compressed(handle, **{name: getattr(maps, name) for name in fields})
        os.replace(partial, cached)  # whole or absent, also when several processes race
    except OSError:  # a read-only or full disk: every process builds its own, as before
        if partial is not None:
            partial.unlink(missing_ok=True)
    return maps


def build_template_maps(resolution: int) -> TemplateMaps:
    """Load the template at 1 or 2 mm (no download) and build skull and scalp shells."""
    from nilearn.datasets import load_mni152_brain_mask, load_mni152_gm_template, load_mni152_wm_template

    gm_image = load_mni152_gm_template(resolution=resolution)
    gm = np.asarray(gm_image.get_fdata(), dtype=np.float32)
    wm = np.asarray(load_mni152_wm_template(resolution=resolution).get_fdata(), dtype=np.float32)
    mask = np.asarray(load_mni152_brain_mask(resolution=resolution).get_fdata()) > 0
    brain = ndimage.gaussian_filter(mask.astype(np.float32), 0.7)
    mm = float(resolution)
    inner = ndimage.binary_dilation(mask, iterations=max(1, round(2 / mm)))
    skull = ndimage.binary_dilation(mask, iterations=max(2, round(7 / mm)))
    head = ndimage.binary_dilation(mask, iterations=max(3, round(12 / mm)))
    bone = ndimage.gaussian_filter((skull & ~inner).astype(np.float32), 0.7)
    scalp = ndimage.gaussian_filter((head & ~skull).astype(np.float32), 0.7)
    dura = ndimage.gaussian_filter((inner & ~mask).astype(np.float32), 0.7) * 0.8
    vessel = vessel_map(mask, inner & ~mask, gm_image.affine, mm)
    total = gm + wm
    scale = np.where(total > brain, brain / np.maximum(total, 1e-6), 1.0).astype(np.float32)
    return TemplateMaps(affine=gm_image.affine, gm=gm * scale, wm=wm * scale, brain=brain, bone=bone, scalp=scalp,
                        dura=dura, vessel=vessel)


@dataclass(frozen=True)
class SubjectWarp:
    """Random smooth deformation, subject mm → template mm: a global scale plus, per axis, a
    sum of three long-wavelength (80-160 mm) waves of a few mm. Analytic, so it costs a few
    sines per voxel instead of a spline evaluation (5 s for a BraTS-size volume)."""

    scale: np.ndarray          # (3,)
    directions: np.ndarray     # (3 axes, waves, 3) wave vectors in rad/mm
    phases: np.ndarray         # (3, waves)
    amplitudes: np.ndarray     # (3, waves) mm

    @classmethod
    def random(cls, rng: np.random.Generator, amplitude_mm: float = 3.0, waves: int = 3) -> "SubjectWarp":
        unit = rng.normal(size=(3, waves, 3))
        unit /= np.linalg.norm(unit, axis=-1, keepdims=True)
        wavelength = rng.uniform(80, 160, (3, waves, 1))
        return cls(scale=rng.uniform(0.93, 1.07, 3), directions=(2 * np.pi / wavelength) * unit,
                   phases=rng.uniform(0, 2 * np.pi, (3, waves)), amplitudes=rng.uniform(0.5, 1.0, (3, waves)) * amplitude_mm)

    def to_template(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) subject-space RAS mm (relative to the head centre) → template mm (same origin)."""
        points = points.astype(np.float32, copy=False)
        moved = points / self.scale.astype(np.float32)
        for axis in range(3):
            for wave in range(self.directions.shape[1]):
                angle = points @ self.directions[axis, wave].astype(np.float32) + np.float32(self.phases[axis, wave])
                moved[:, axis] += np.float32(self.amplitudes[axis, wave]) * np.sin(angle)
        return moved


def normal_fractions(maps: TemplateMaps, template_mm: np.ndarray) -> dict[str, np.ndarray]:
    """GM, WM, CSF, vessel, dura, bone and scalp fractions at template-space points."""
    voxels = (template_mm - maps.affine[:3, 3]) @ np.linalg.inv(maps.affine[:3, :3]).T

    def sample(volume: np.ndarray) -> np.ndarray:
        return ndimage.map_coordinates(volume, voxels.T, order=1, mode="constant", cval=0.0).astype(np.float32)

    gm, wm, brain = sample(maps.gm), sample(maps.wm), sample(maps.brain)
    csf = np.clip(brain - gm - wm, 0.0, 1.0)
    dura = sample(maps.dura)
    vessel = np.clip(sample(maps.vessel), 0.0, 1.0)
    keep = 1.0 - vessel  # veins displace the tissue they run through; the sinus displaces the dura
    return {
        "gm": gm * keep,
        "wm": wm * keep,
        "csf": csf * keep,
        "vessel": vessel * np.clip(brain + dura, 0.0, 1.0),
        "dura": dura * keep,
        "bone": sample(maps.bone),
        "scalp": sample(maps.scalp),
    }
