"""Rigid mutual-information registration with SimpleITK, sized for native scans on a CPU.

The recipe of the ANTs / SimpleITK examples, chosen by measurement (`bench/prepare_speed.py`):
- The transform is estimated on block-averaged copies (`BinShrink`) at each pyramid level's voxel
  size (default 8, 4, 2 mm). An axis that is already coarser, such as 6 mm slices, keeps its own
  spacing: shrinking a 24-slice stack by 4 would leave 6 slices. The transform is applied later,
  once, from the original voxels at full resolution (`grid.resample_onto`).
- Mattes mutual information (the paper's criterion) on a seeded random sample of a few percent
  of the fixed image's voxels, inside its head (Otsu) so the samples are not spent on air.
- Regular-step gradient descent, the step scaled from physical shifts so rotations and
  translations move comparably; a level ends when the step has shrunk below `min_step` (it
  halves whenever the metric gets worse), so converged levels stop early. Plain gradient descent
  with a convergence window was tried and stopped too early on the sampled metric's noise
  (1.5-4 mm errors against 1 mm).
- Initialised at identity (rotation centred on the fixed image), not by centring the two fields
  of view: sequences of one session share scanner coordinates, so identity is close, while FOV
  centring fails when FOVs differ (ISLES'22 FLAIR covers more than DWI).
- The result is kept only if it scores better than the identity with the same metric and samples
  at the finest level; otherwise the identity is returned: doing nothing beats a wrong transform.
"""
from __future__ import annotations

from dataclasses import dataclass

import SimpleITK as sitk

from pmm_core.config.registration import RegistrationOptions
from pmm_core.errors import CaseError


def identity_transform() -> sitk.Transform:
    return sitk.Euler3DTransform()


@dataclass(frozen=True)
class RegistrationResult:
    """The estimated transform (fixed point → moving point) and how it was judged."""

    transform: sitk.Transform
    metric_identity: float   # negated mutual information: lower is better
    metric_result: float
    kept_identity: bool


def _shrunk(image: sitk.Image, spacing_mm: float) -> sitk.Image:
    """Block average to about `spacing_mm` per axis; axes already that coarse are left alone."""
    factors = [max(1, int(round(spacing_mm / s))) for s in image.GetSpacing()]
    return sitk.BinShrink(image, factors) if max(factors) > 1 else image


def _head_mask(image: sitk.Image, margin_mm: float) -> sitk.Image:
    """Otsu foreground grown by `margin_mm`, so the head's edge and the air beside it stay sampled."""
    otsu = sitk.OtsuThreshold(image, 0, 1)
    radius = [int(round(margin_mm / spacing)) for spacing in image.GetSpacing()]
    return sitk.BinaryDilate(otsu, radius) if max(radius) > 0 else otsu


def _method(fixed: sitk.Image, options: RegistrationOptions) -> sitk.ImageRegistrationMethod:
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=options.histogram_bins)
    voxels = fixed.GetNumberOfPixels()
    fraction = min(1.0, max(options.sampling_fraction, options.min_samples / voxels))
    if fraction < 1.0:
        method.SetMetricSamplingStrategy(method.RANDOM)
        method.SetMetricSamplingPercentage(fraction, options.seed)
    if options.head_mask:
        method.SetMetricFixedMask(_head_mask(fixed, options.head_margin_mm))
    method.SetInterpolator(sitk.sitkLinear)
    return method


def metric_value(fixed: sitk.Image, moving: sitk.Image, transform: sitk.Transform, options: RegistrationOptions) -> float:
    """Negated mutual information of `transform` with the samples a level of `options` uses."""
    method = _method(fixed, options)
    method.SetInitialTransform(transform, inPlace=False)
    return method.MetricEvaluate(fixed, moving)


def _register_level(fixed: sitk.Image, moving: sitk.Image, initial: sitk.Transform,
                    options: RegistrationOptions) -> sitk.Transform:
    method = _method(fixed, options)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=options.initial_step, minStep=options.min_step, numberOfIterations=options.max_iterations,
        relaxationFactor=0.6, gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetInitialTransform(initial, inPlace=False)
    result = method.Execute(fixed, moving)
    if isinstance(result, sitk.CompositeTransform) and result.GetNumberOfTransforms() == 1:
        result = result.GetNthTransform(0)
    return sitk.Euler3DTransform(result)


def estimate_rigid(fixed: sitk.Image, moving: sitk.Image, options: RegistrationOptions | None = None) -> RegistrationResult:
    """Estimate the rigid transform mapping points of `fixed` to points of `moving` (what Resample expects)."""
    options = options or RegistrationOptions()
    fixed_f = sitk.Cast(fixed, sitk.sitkFloat32)
    moving_f = sitk.Cast(moving, sitk.sitkFloat32)
    transform = sitk.Euler3DTransform()
    center_index = [(size - 1) / 2.0 for size in fixed_f.GetSize()]
    transform.SetCenter(fixed_f.TransformContinuousIndexToPhysicalPoint(center_index))
    identity = sitk.Euler3DTransform(transform)
    try:
        for spacing in options.level_spacings_mm:
            level_fixed, level_moving = _shrunk(fixed_f, spacing), _shrunk(moving_f, spacing)
            transform = _register_level(level_fixed, level_moving, transform, options)
        start = metric_value(level_fixed, level_moving, identity, options)  # the finest level's samples
        end = metric_value(level_fixed, level_moving, transform, options)
    except RuntimeError as exc:
        first_line = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown ITK error"
        raise CaseError(f"rigid registration failed: {first_line}") from None
    if not end < start:
        return RegistrationResult(identity, start, end, kept_identity=True)
    return RegistrationResult(transform, start, end, kept_identity=False)


def register_rigid(fixed: sitk.Image, moving: sitk.Image, options: RegistrationOptions | None = None) -> sitk.Transform:
    """The transform of `estimate_rigid` (the identity when the optimiser could not improve on it)."""
    return estimate_rigid(fixed, moving, options).transform
