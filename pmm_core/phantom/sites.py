"""The four phantom sites: protocol, scanner, geometry, pathology and layout of each.

They differ the way the paper's sites do: field strength and sequence timings (so contrast
differs), intensity scale and noise (scanner), in-plane resolution and slice thickness,
skull present or stripped, co-registered or not, disease, and modality coverage.
"""
from __future__ import annotations

from dataclasses import dataclass

from pmm_core.phantom.mr_physics import Protocol


@dataclass(frozen=True)
class Grid:
    """An acquisition grid: in-plane matrix and pixel size, slices and thickness (mm)."""

    matrix: int
    pixel: float
    slices: int
    thickness: float

    def reduced(self, factor: float) -> "Grid":
        """The same field of view at `factor` times coarser in-plane resolution (test size)."""
        slices = self.slices if self.slices <= 40 else max(24, round(self.slices / factor))
        thickness = self.thickness if self.slices <= 40 else self.thickness * self.slices / slices
        return Grid(max(16, round(self.matrix / factor)), self.pixel * self.matrix / max(16, round(self.matrix / factor)),
                    slices, thickness)


@dataclass(frozen=True)
class PhantomSite:
    name: str
    dataset_id: int
    layout: str
    modalities: tuple[str, ...]
    pathology: str
    protocol: Protocol
    intensity_scale: float
    noise: float                  # Rician sigma relative to the median brain signal
    bias: float                   # bias-field strength
    grid: Grid
    skull_stripped: bool
    coregistered: bool
    oblique_deg: float            # random tilt of the slice stack
    misregistration: tuple[float, float] = (0.0, 0.0)   # max degrees, max mm between modalities
    flair_grid: Grid | None = None                     # ISLES: FLAIR on its own grid
    # full size only: modalities acquired with their own matrix over the same slab (same tilt and
    # field of view), as clinical protocols do: a 0.6 mm T2 beside a 0.7 mm T1 and a 1.2 mm DWI.
    native_grids: tuple[tuple[str, Grid], ...] = ()
    random_subset: bool = False                        # TTI: each case misses some modalities


SITES: tuple[PhantomSite, ...] = (
    PhantomSite(
        name="TTG", dataset_id=0, layout="generic", modalities=("T1", "T2", "T1C", "FLAIR", "DWI", "ADC"),
        pathology="glioma",
        protocol=Protocol(field=3.0, t1_tr=550, t1_te=10, t2_tr=4500, t2_te=95, flair_tr=9000, flair_te=120,
                          dwi_tr=5000, dwi_te=75),
        intensity_scale=1800.0, noise=0.03, bias=0.25, grid=Grid(320, 0.72, 24, 6.0),
        skull_stripped=False, coregistered=False, oblique_deg=8.0, misregistration=(3.0, 3.0),
        native_grids=(("T2", Grid(384, 0.6, 26, 5.5)), ("T1C", Grid(512, 0.45, 24, 6.0)),
                      ("FLAIR", Grid(288, 0.8, 24, 6.0)), ("DWI", Grid(192, 1.2, 24, 6.0)),
                      ("ADC", Grid(192, 1.2, 24, 6.0))),
    ),
    PhantomSite(
        name="TTI", dataset_id=1, layout="generic", modalities=("T1", "T2", "FLAIR", "ADC"),
        pathology="ms",
        protocol=Protocol(field=1.5, t1_tr=450, t1_te=15, t2_tr=3800, t2_te=105, flair_tr=8000, flair_te=110,
                          dwi_tr=4000, dwi_te=90, csf_null_error=0.04),
        intensity_scale=900.0, noise=0.05, bias=0.35, grid=Grid(256, 0.94, 24, 6.5),
        skull_stripped=False, coregistered=False, oblique_deg=10.0, misregistration=(3.0, 4.0), random_subset=True,
        native_grids=(("T2", Grid(384, 0.62, 22, 7.0)), ("FLAIR", Grid(320, 0.75, 24, 6.5)),
                      ("ADC", Grid(192, 1.25, 22, 7.0))),
    ),
    PhantomSite(
        name="BraTS", dataset_id=2, layout="brats", modalities=("T1", "T2", "T1C", "FLAIR"),
        pathology="glioma",
        protocol=Protocol(field=3.0, t1_tr=600, t1_te=12, t2_tr=5000, t2_te=100, flair_tr=10000, flair_te=125,
                          dwi_tr=5000, dwi_te=80, t1c_tr=7.0, t1c_te=3.0, t1c_flip_deg=15.0),
        intensity_scale=1000.0, noise=0.02, bias=0.05, grid=Grid(240, 1.0, 155, 1.0),
        skull_stripped=True, coregistered=True, oblique_deg=0.0,
    ),
    PhantomSite(
        name="ISLES", dataset_id=3, layout="isles2022", modalities=("FLAIR", "DWI", "ADC"),
        pathology="infarct",
        protocol=Protocol(field=3.0, t1_tr=500, t1_te=10, t2_tr=4000, t2_te=90, flair_tr=9500, flair_te=118,
                          dwi_tr=5500, dwi_te=70),
        intensity_scale=1200.0, noise=0.04, bias=0.2, grid=Grid(112, 2.0, 28, 5.0),
        skull_stripped=False, coregistered=False, oblique_deg=4.0, misregistration=(2.0, 2.0),
        flair_grid=Grid(256, 0.9, 26, 5.5),
    ),
)

TEST_SIZE_FACTOR = 3.0
