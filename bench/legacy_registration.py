"""The registration pmm shipped before the native-size work, kept only as the benchmark's baseline.

Full-resolution Mattes MI over up to 2 M voxels of the fixed image, a 2-level pyramid (shrink
2 then 1, 2 mm smoothing), regular-step gradient descent for up to 200 iterations per level.
It took 66 s for one 384x384x26 onto 320x320x24 pair on 2 cores. Not used by pmm itself.
"""
from __future__ import annotations

import SimpleITK as sitk

MAX_SAMPLED_VOXELS = 2_000_000


def legacy_register_rigid(fixed: sitk.Image, moving: sitk.Image, iterations: int = 200, seed: int = 1) -> sitk.Transform:
    fixed_f = sitk.Cast(fixed, sitk.sitkFloat32)
    moving_f = sitk.Cast(moving, sitk.sitkFloat32)
    initial = sitk.Euler3DTransform()
    center_index = [(size - 1) / 2.0 for size in fixed_f.GetSize()]
    initial.SetCenter(fixed_f.TransformContinuousIndexToPhysicalPoint(center_index))
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    voxels = fixed_f.GetNumberOfPixels()
    if voxels > MAX_SAMPLED_VOXELS:
        method.SetMetricSamplingStrategy(method.RANDOM)
        method.SetMetricSamplingPercentage(MAX_SAMPLED_VOXELS / voxels, seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-4, numberOfIterations=iterations, relaxationFactor=0.6,
        gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([2, 1])
    method.SetSmoothingSigmasPerLevel([2.0, 0.0])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(initial, inPlace=False)
    result = method.Execute(fixed_f, moving_f)
    if isinstance(result, sitk.CompositeTransform) and result.GetNumberOfTransforms() == 1:
        return result.GetNthTransform(0)
    return result
