"""Lesions in template space: glioma (necrosis, enhancing rim, oedema), MS-like periventricular
lesions, and an ischaemic infarct of one of three ages. Each takes its share of the normal brain tissue at a point.

Shapes are irregular: distances are perturbed by a few random low-frequency waves, so no two
tumours look alike and none is a perfect sphere.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pmm_core.phantom.tissues import INFARCT_STAGES

BRAIN_TISSUES = ("gm", "wm", "csf")


def _soft_inside(distance: np.ndarray, radius: float, edge: float = 1.5) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(np.clip((distance - radius) / edge, -40, 40)))).astype(np.float32)


@dataclass(frozen=True)
class Blob:
    """An irregular ellipsoidal region in template mm."""

    center: np.ndarray
    radii: np.ndarray
    waves: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # rows: direction(3), phase

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Normalised radius (1 at the surface) with a wavy perturbation."""
        offset = points - self.center
        radius = np.sqrt(((offset / self.radii) ** 2).sum(axis=1))
        for wave in self.waves:
            radius *= 1 + 0.12 * np.sin(offset @ wave[:3] / 6.0 + wave[3])
        return radius

    @classmethod
    def random(cls, rng: np.random.Generator, center, radius: float, squash: float = 0.25) -> "Blob":
        radii = radius * rng.uniform(1 - squash, 1 + squash, 3)
        waves = np.concatenate([rng.normal(0, 1, (3, 3)), rng.uniform(0, 2 * np.pi, (3, 1))], axis=1)
        return cls(np.asarray(center, dtype=float), radii, waves)


def _take_from_brain(fractions: dict[str, np.ndarray], name: str, share: np.ndarray) -> None:
    """Move `share` of the local brain tissue into lesion tissue `name`."""
    brain = sum(fractions[t] for t in BRAIN_TISSUES)
    amount = share * brain
    for tissue in BRAIN_TISSUES:
        fractions[tissue] = fractions[tissue] * (1 - share)
    fractions[name] = fractions.get(name, np.zeros_like(amount)) + amount


@dataclass(frozen=True)
class Glioma:
    blob: Blob
    necrosis: float = 0.45   # fraction of the tumour radius
    rim: float = 1.0
    edema: float = 1.8

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Glioma":
        side = rng.choice([-1, 1])
        center = (side * rng.uniform(20, 40), rng.uniform(-45, 25), rng.uniform(0, 35))
        return cls(Blob.random(rng, center, rng.uniform(12, 20)), necrosis=rng.uniform(0.35, 0.6), edema=rng.uniform(1.5, 2.1))

    def apply(self, fractions: dict[str, np.ndarray], points: np.ndarray) -> np.ndarray:
        scale = float(self.blob.radii.mean())
        radius = self.blob.distance(points) * scale
        core = _soft_inside(radius, self.necrosis * scale)
        tumour = _soft_inside(radius, self.rim * scale)
        swollen = _soft_inside(radius, self.edema * scale, edge=3.0)
        _take_from_brain(fractions, "necrosis", core)
        _take_from_brain(fractions, "enhancing", np.clip((tumour - core) / np.maximum(1 - core, 1e-6), 0, 1))
        _take_from_brain(fractions, "edema", np.clip((swollen - tumour) / np.maximum(1 - tumour, 1e-6), 0, 1) * 0.9)
        label = np.zeros(points.shape[0], dtype=np.uint8)
        label[swollen > 0.5] = 2
        label[tumour > 0.5] = 4
        label[core > 0.5] = 1
        return label


@dataclass(frozen=True)
class MultipleSclerosis:
    blobs: tuple[Blob, ...]

    @classmethod
    def random(cls, rng: np.random.Generator) -> "MultipleSclerosis":
        blobs = []
        for _ in range(rng.integers(4, 9)):  # around the lateral ventricles, in white matter
            side = rng.choice([-1, 1])
            center = (side * rng.uniform(14, 26), rng.uniform(-40, 20), rng.uniform(5, 28))
            blobs.append(Blob.random(rng, center, rng.uniform(3, 6), squash=0.4))
        return cls(tuple(blobs))

    def apply(self, fractions: dict[str, np.ndarray], points: np.ndarray) -> np.ndarray:
        share = np.zeros(points.shape[0], dtype=np.float32)
        for blob in self.blobs:
            share = np.maximum(share, _soft_inside(blob.distance(points), 1.0, edge=0.1))
        _take_from_brain(fractions, "ms_lesion", share * 0.95)
        return (share > 0.5).astype(np.uint8)


@dataclass(frozen=True)
class Infarct:
    """A territorial infarct whose age (`tissues.INFARCT_STAGES`, drawn evenly) sets which of
    FLAIR and ADC show it; DWI shows it at every age."""

    blob: Blob
    stage: str = "acute"

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Infarct":
        side = rng.choice([-1, 1])  # middle cerebral artery territory, cortex and white matter
        center = (side * rng.uniform(30, 48), rng.uniform(-30, 15), rng.uniform(0, 30))
        blob = Blob.random(rng, center, rng.uniform(9, 16), squash=0.35)
        return cls(blob, str(rng.choice(INFARCT_STAGES)))

    @property
    def tissue(self) -> str:
        return f"infarct_{self.stage}"

    def apply(self, fractions: dict[str, np.ndarray], points: np.ndarray) -> np.ndarray:
        share = _soft_inside(self.blob.distance(points), 1.0, edge=0.08)
        _take_from_brain(fractions, self.tissue, share)
        brain = fractions["gm"] + fractions["wm"] + fractions[self.tissue]
        return ((share > 0.5) & (brain > 0.3)).astype(np.uint8)


PATHOLOGIES = {"glioma": Glioma, "ms": MultipleSclerosis, "infarct": Infarct}
