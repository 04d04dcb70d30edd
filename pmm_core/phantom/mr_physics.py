"""MR signal equations: spin echo, inversion recovery (FLAIR), contrast-enhanced T1, DWI and ADC.

T1C is its own sequence, as it usually is in the clinic (and in BraTS): a 3D spoiled gradient
echo after gadolinium, not the pre-contrast spin echo again. Blood flowing through veins and
sinuses is a flow void on spin-echo, FLAIR and diffusion images but bright on the post-contrast
gradient echo; the dura enhances too. These are what make T1 -> T1C more than an intensity map.

Signals are computed per tissue and mixed by tissue fractions (partial volume adds signal,
which is what a voxel does). Noise is Rician (magnitude of complex Gaussian noise) and a smooth
multiplicative bias field mimics coil sensitivity.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pmm_core.phantom.tissues import FLOW_VOID_SIGNAL, GADOLINIUM_R1, TISSUES, Tissue

B_VALUE = 1000.0  # s/mm^2
B0 = "B0"  # the diffusion acquisition's b=0 image: not a modality of its own, ADC is computed from it
ADC_MAX = 5000.0  # 1e-6 mm^2/s: where scanners clip a map whose b=1000 signal is lost in the noise


@dataclass(frozen=True)
class Protocol:
    """One site's acquisition parameters (ms)."""

    field: float
    t1_tr: float
    t1_te: float
    t2_tr: float
    t2_te: float
    flair_tr: float
    flair_te: float
    dwi_tr: float
    dwi_te: float
    t1c_tr: float = 8.0           # post-contrast 3D spoiled gradient echo
    t1c_te: float = 3.5
    t1c_flip_deg: float = 12.0
    csf_null_error: float = 0.0   # relative error of the FLAIR inversion time vs perfect CSF nulling

    def flair_ti(self) -> float:
        """Inversion time nulling CSF: 1 - 2 exp(-TI/T1) + exp(-TR/T1) = 0."""
        t1 = TISSUES["csf"].t1(self.field)
        ti = -t1 * math.log((1 + math.exp(-self.flair_tr / t1)) / 2)
        return ti * (1 + self.csf_null_error)


def spin_echo(pd: float, t1: float, t2: float, tr: float, te: float) -> float:
    return pd * (1 - math.exp(-tr / t1)) * math.exp(-te / t2)


def spoiled_gradient_echo(pd: float, t1: float, t2: float, tr: float, te: float, flip_deg: float) -> float:
    """Steady state of a spoiled GRE (T2* approximated by T2)."""
    e1, alpha = math.exp(-tr / t1), math.radians(flip_deg)
    return pd * math.sin(alpha) * (1 - e1) / (1 - math.cos(alpha) * e1) * math.exp(-te / t2)


def inversion_recovery(pd: float, t1: float, t2: float, tr: float, te: float, ti: float) -> float:
    return pd * abs(1 - 2 * math.exp(-ti / t1) + math.exp(-tr / t1)) * math.exp(-te / t2)


def tissue_signal(modality: str, tissue: Tissue, protocol: Protocol) -> float:
    """Noise-free signal of one pure tissue (ADC is returned in 1e-6 mm^2/s, as scanners store it)."""
    t1, t2 = tissue.t1(protocol.field), tissue.t2(protocol.field)
    if modality == "T1C":
        t1_post = 1.0 / (1.0 / t1 + GADOLINIUM_R1 * tissue.gd_uptake / 1000.0)
        return spoiled_gradient_echo(tissue.pd, t1_post, t2, protocol.t1c_tr, protocol.t1c_te, protocol.t1c_flip_deg)
    if modality == "ADC":
        return tissue.adc * 1000.0
    return spin_echo_family_signal(modality, tissue, protocol) * (FLOW_VOID_SIGNAL if tissue.flow_void else 1.0)


def spin_echo_family_signal(modality: str, tissue: Tissue, protocol: Protocol) -> float:
    """T1, T2, FLAIR and DWI: the sequences in which flowing blood is dark."""
    t1, t2 = tissue.t1(protocol.field), tissue.t2(protocol.field)
    if modality == "T1":
        return spin_echo(tissue.pd, t1, t2, protocol.t1_tr, protocol.t1_te)
    if modality == "T2":
        return spin_echo(tissue.pd, t1, t2, protocol.t2_tr, protocol.t2_te)
    if modality == "FLAIR":
        return inversion_recovery(tissue.pd, t1, t2, protocol.flair_tr, protocol.flair_te, protocol.flair_ti())
    s0 = spin_echo(tissue.pd, t1, t2, protocol.dwi_tr, protocol.dwi_te)
    if modality == B0:
        return s0
    if modality == "DWI":
        return s0 * math.exp(-B_VALUE * tissue.adc * 1e-3)
    raise ValueError(f"unknown modality {modality}")


def apparent_diffusion(b0: np.ndarray, dwi: np.ndarray) -> np.ndarray:
    """The ADC map (1e-6 mm^2/s) a scanner computes from the b=0 and b=1000 images of one
    acquisition: ln(S0 / Sb) / b. Their noise adds (ADC is noisier than DWI, most where Sb is
    small, as in CSF) and a coil's bias field cancels."""
    floor = np.float32(1e-3)
    adc = np.log(np.maximum(b0, floor) / np.maximum(dwi, floor)) / np.float32(B_VALUE) * np.float32(1e6)
    return np.clip(adc, 0.0, ADC_MAX)


def mix_signal(modality: str, fractions: dict[str, np.ndarray], protocol: Protocol) -> np.ndarray:
    """Σ fraction_t · signal_t over tissues: partial-volume voxels get mixed signal."""
    shape = next(iter(fractions.values())).shape
    signal = np.zeros(shape, dtype=np.float32)
    for name, fraction in fractions.items():
        signal += np.float32(tissue_signal(modality, TISSUES[name], protocol)) * fraction
    return signal


def bias_field(points_mm: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Smooth multiplicative field: exp of a random quadratic in head-sized coordinates."""
    x = points_mm.astype(np.float32) / np.float32(100.0)
    linear = rng.normal(0, strength, 3).astype(np.float32)
    quadratic = rng.normal(0, strength / 2, 3).astype(np.float32)
    log_field = x @ linear + (x * x) @ quadratic
    return np.exp(log_field).astype(np.float32)


def rician(signal: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude of signal plus complex Gaussian noise."""
    real = signal + rng.normal(0, sigma, signal.shape).astype(np.float32)
    imaginary = rng.normal(0, sigma, signal.shape).astype(np.float32)
    return np.sqrt(real * real + imaginary * imaginary)
