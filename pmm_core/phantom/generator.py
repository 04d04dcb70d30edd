"""One phantom case: anatomy + pathology sampled on each modality's grid, then MR physics.

Modalities acquired together (BraTS after co-registration, ISLES DWI and its ADC) share one grid
and one subject position, so their tissue fractions are computed once. Every other modality is
its own acquisition: same slice stack, but the subject moved a little in between (TTG, TTI).
DWI and ADC are one acquisition at every site: the ADC map is computed from the DWI and the b=0
image taken with it, as a scanner does, so it has their noise and position.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pmm_core.phantom.anatomy import SubjectWarp, normal_fractions, template_maps
from pmm_core.phantom.mr_physics import B0, apparent_diffusion, bias_field, mix_signal, rician
from pmm_core.phantom.pathology import PATHOLOGIES
from pmm_core.phantom.sites import TEST_SIZE_FACTOR, Grid, PhantomSite

HEAD_CENTER_MM = np.array([0.0, -18.0, 12.0])  # middle of the ICBM152 head, RAS
OUTSIDE_BRAIN = ("bone", "scalp", "dura")
# one acquisition (the sites give both the same grid): the scanner computes ADC from the DWI's b=0
# and b=1000 images
DIFFUSION = ("DWI", "ADC")


def _brain_median(signal: np.ndarray, fractions: dict[str, np.ndarray]) -> float:
    """The signal level of the brain (grey and white matter), which noise and scanner units are relative to."""
    brain = (fractions["gm"] + fractions["wm"]) > 0.5
    return float(np.median(signal[brain])) if brain.any() else float(signal.max() or 1.0)


def rotation(degrees: np.ndarray) -> np.ndarray:
    ax, ay, az = np.deg2rad(degrees)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def grid_affine(grid: Grid, tilt: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """A scanner-style affine (x and y stored flipped, as DICOM-derived NIfTI often is), centred on the head."""
    shape = np.array([grid.matrix, grid.matrix, grid.slices])
    affine = np.eye(4)
    affine[:3, :3] = rotation(tilt) @ np.diag([-grid.pixel, -grid.pixel, grid.thickness])
    affine[:3, 3] = HEAD_CENTER_MM + shift - affine[:3, :3] @ ((shape - 1) / 2.0)
    return affine


def rigid(rng: np.random.Generator, max_degrees: float, max_mm: float) -> np.ndarray:
    motion = np.eye(4)
    motion[:3, :3] = rotation(rng.uniform(-max_degrees, max_degrees, 3))
    motion[:3, 3] = rng.uniform(-max_mm, max_mm, 3)
    return motion


def grid_points(grid: Grid, affine: np.ndarray) -> np.ndarray:
    """World (RAS mm) position of every voxel, float32, in (i, j, k) C order."""
    ijk = np.indices((grid.matrix, grid.matrix, grid.slices), dtype=np.float32).reshape(3, -1).T
    return ijk @ affine[:3, :3].T.astype(np.float32) + affine[:3, 3].astype(np.float32)


@dataclass
class PhantomVolume:
    data: np.ndarray      # (i, j, k) int16 scanner units, or uint8 for labels
    affine: np.ndarray


@dataclass
class PhantomCase:
    case_id: str
    images: dict[str, PhantomVolume]
    label: PhantomVolume | None
    # subject motion (4x4, RAS mm) of each acquisition relative to the label's: the voxel at world
    # point p shows the anatomy the reference shows at motion @ p. Registration benchmarks score
    # their transforms against it.
    motions: dict[str, np.ndarray] = field(default_factory=dict)
    brain: PhantomVolume | None = None   # true brain tissue (grey and white matter, lesions) on the label's grid


class CaseSynthesizer:
    """Draws one subject (warp, lesion) and acquires its modalities with a site's protocol."""

    def __init__(self, site: PhantomSite, resolution: int, test_size: bool, rng: np.random.Generator):
        self.site, self.rng = site, rng
        self.maps = template_maps(resolution)
        self.warp = SubjectWarp.random(rng)
        self.pathology = PATHOLOGIES[site.pathology].random(rng)
        self.grid = site.grid.reduced(TEST_SIZE_FACTOR) if test_size else site.grid
        self.flair_grid = site.flair_grid
        if site.flair_grid is not None and test_size:
            self.flair_grid = site.flair_grid.reduced(TEST_SIZE_FACTOR)
        self.native_grids = {} if test_size else dict(site.native_grids)

    def fractions(self, world: np.ndarray, motion: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Tissue fractions and lesion label at world points, subject moved by `motion`."""
        subject = world @ motion[:3, :3].T.astype(np.float32) + motion[:3, 3].astype(np.float32)
        template_mm = self.warp.to_template(subject - HEAD_CENTER_MM) + HEAD_CENTER_MM
        fractions = normal_fractions(self.maps, template_mm)
        label = self.pathology.apply(fractions, template_mm)
        if self.site.skull_stripped:  # brain tissue (lesions included) where the brain dominates
            brain = sum(v for k, v in fractions.items() if k not in OUTSIDE_BRAIN)
            keep = (brain > 0.5).astype(np.float32)
            fractions = {k: v * keep for k, v in fractions.items() if k not in OUTSIDE_BRAIN}
        return fractions, label

    def acquire(self, modality: str, fractions: dict[str, np.ndarray], points: np.ndarray) -> np.ndarray:
        """Signal equation → bias field → Rician noise → scanner units (int16)."""
        site = self.site
        signal = mix_signal(modality, fractions, site.protocol)
        reference = _brain_median(signal, fractions)
        signal = rician(signal * self.coil_field(points), site.noise * reference, self.rng)
        return self.stored(self.scanner_units(signal, reference), fractions)

    def acquire_diffusion(self, fractions: dict[str, np.ndarray], points: np.ndarray) -> dict[str, np.ndarray]:
        """One diffusion acquisition: its b=1000 image (DWI, scanner units) and the ADC map the
        scanner computes from that image and the b=0 image taken with it (1e-6 mm^2/s). Both images
        share the coil's field and the receiver's noise, so the map carries the noise of two images
        (more than DWI, as on a scanner) and no bias field."""
        site = self.site
        dwi = mix_signal("DWI", fractions, site.protocol)
        reference = _brain_median(dwi, fractions)
        field, sigma = self.coil_field(points), site.noise * reference
        dwi = rician(dwi * field, sigma, self.rng)
        b0 = rician(mix_signal(B0, fractions, site.protocol) * field, sigma, self.rng)
        head = sum(fractions.values()) > 0.3  # the scanner's mask: no map where there is no tissue
        adc = np.where(head, apparent_diffusion(b0, dwi), 0.0)
        return {"DWI": self.stored(self.scanner_units(dwi, reference), fractions), "ADC": self.stored(adc, fractions)}

    def scanner_units(self, signal: np.ndarray, reference: float) -> np.ndarray:
        """The brain's level at half the site's intensity scale, as its scanner stores it."""
        return signal / reference * self.site.intensity_scale * 0.5

    def coil_field(self, points: np.ndarray) -> np.ndarray:
        return bias_field(points - HEAD_CENTER_MM, self.rng, self.site.bias)

    def stored(self, signal: np.ndarray, fractions: dict[str, np.ndarray]) -> np.ndarray:
        """Scanner units as written: int16, and nothing outside the brain on a skull-stripped site."""
        if self.site.skull_stripped:
            signal = np.where(sum(fractions.values()) > 0.5, signal, 0.0)
        return np.clip(np.round(signal), 0, 32767).astype(np.int16)

    def make(self, case_id: str, modalities: tuple[str, ...]) -> PhantomCase:
        site, rng = self.site, self.rng
        tilt = rng.uniform(-site.oblique_deg, site.oblique_deg, 3) * np.array([1.0, 1.0, 0.5])
        shift = rng.uniform(-5, 5, 3)
        affine = grid_affine(self.grid, tilt, shift)
        world = grid_points(self.grid, affine)
        # the reference acquisition (subject not moved) defines the label's grid
        shared, label_values = self.fractions(world, np.eye(4))
        shape = (self.grid.matrix, self.grid.matrix, self.grid.slices)
        label = PhantomVolume(label_values.reshape(shape), affine)
        tissue = sum(v for k, v in shared.items() if k not in OUTSIDE_BRAIN + ("csf",))
        brain = PhantomVolume((tissue > 0.5).reshape(shape).astype(np.uint8), affine)
        images: dict[str, PhantomVolume] = {}
        motions: dict[str, np.ndarray] = {}
        diffusion: dict[str, np.ndarray] = {}  # DWI and ADC of the case's one diffusion acquisition
        for modality in modalities:
            if modality in diffusion:  # made with the other: same grid, same position, same noise
                acquired = next(m for m in DIFFUSION if m in images)
                images[modality] = PhantomVolume(diffusion[modality], images[acquired].affine)
                motions[modality] = motions[acquired]
                continue
            grid, grid_affine_m, points, fractions = self.grid, affine, world, shared
            motion = np.eye(4)
            if modality == "FLAIR" and self.flair_grid is not None:  # its own slab, its own position
                grid = self.flair_grid
                grid_affine_m = grid_affine(grid, tilt + rng.uniform(-3, 3, 3), rng.uniform(-5, 5, 3))
                points = grid_points(grid, grid_affine_m)
                motion = rigid(rng, *site.misregistration)
            else:
                if modality in self.native_grids:  # same slab, its own matrix
                    grid = self.native_grids[modality]
                    grid_affine_m = grid_affine(grid, tilt, shift)
                    points = grid_points(grid, grid_affine_m)
                acquired_with_flair_slab = modality in ("DWI", "ADC") and self.flair_grid is not None
                if images and not site.coregistered and not acquired_with_flair_slab:
                    motion = rigid(rng, *site.misregistration)
            if points is not world or not np.array_equal(motion, np.eye(4)):
                fractions, _ = self.fractions(points, motion)
            shape_m = (grid.matrix, grid.matrix, grid.slices)
            if modality in DIFFUSION:
                diffusion = {m: v.reshape(shape_m) for m, v in self.acquire_diffusion(fractions, points).items()}
                data = diffusion[modality]
            else:
                data = self.acquire(modality, fractions, points)
            images[modality] = PhantomVolume(data.reshape(shape_m), grid_affine_m)
            motions[modality] = motion
        return PhantomCase(case_id, images, label, motions, brain)
