"""Rigid mutual-information registration recovers the phantom's known motion between modalities,
and keeps the identity when the optimiser ends worse than it started."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from pmm_core.config.registration import RegistrationOptions
from pmm_core.data.nifti_io import array_to_sitk
from pmm_core.data.preprocess.grid import reorient_axial
from pmm_core.data.preprocess.registration import estimate_rigid
from pmm_core.phantom.generator import CaseSynthesizer
from pmm_core.phantom.sites import SITES
from pmm_core.phantom.truth import brain_points, registration_error_mm

TOLERANCE_MM = 2.0  # under one pixel of the test-size phantom (2.15 mm in-plane, 6 mm slices)


@pytest.fixture(scope="module")
def ttg_case():
    """A test-size TTG phantom case: ICBM anatomy, each modality moved by a known 3 mm / 3 degree motion."""
    site = SITES[0]
    return CaseSynthesizer(site, 2, True, np.random.default_rng([0, site.dataset_id])).make("x", site.modalities)


def _image(case, modality: str) -> sitk.Image:
    volume = case.images[modality]
    return array_to_sitk(volume.data.astype(np.float32), volume.affine)


@pytest.mark.parametrize("moving", ["T2", "FLAIR", "DWI"])
def test_registration_recovers_the_known_motion(ttg_case, moving: str) -> None:
    fixed = reorient_axial(_image(ttg_case, "T1"))
    points = brain_points(ttg_case)
    before = registration_error_mm(sitk.Euler3DTransform(), ttg_case, "T1", moving, points)
    result = estimate_rigid(fixed, _image(ttg_case, moving))
    after = registration_error_mm(result.transform, ttg_case, "T1", moving, points)
    print(f"{moving}->T1 registration error: {before:.2f} mm before, {after:.2f} mm after")
    assert not result.kept_identity and after < before / 2
    assert after < TOLERANCE_MM, f"registration error {after:.2f} mm (was {before:.2f} mm unregistered)"


def test_identity_is_kept_when_the_optimiser_ends_worse(ttg_case) -> None:
    """A first step of 60 mm with one iteration leaves the optimiser far off: it must not be used."""
    fixed = reorient_axial(_image(ttg_case, "T1"))
    wild = RegistrationOptions(level_spacings_mm=[4.0], initial_step=60.0, max_iterations=1)
    result = estimate_rigid(fixed, _image(ttg_case, "T2"), wild)
    assert result.kept_identity and result.metric_result >= result.metric_identity  # MI is negated: higher is worse
    assert np.allclose(result.transform.GetParameters(), 0.0)
    tuned = estimate_rigid(fixed, _image(ttg_case, "T2"))
    assert not tuned.kept_identity and tuned.metric_result < tuned.metric_identity


def test_an_adc_on_its_dwis_grid_takes_the_dwis_transform_and_one_on_its_own_grid_is_registered(ttg_case) -> None:
    """The scanner computes ADC from the DWI's own images: registered apart the two would end up
    shifted against each other, so on a shared grid ADC follows DWI with no registration of its own."""
    from pmm_core.config.site import PreprocessOptions
    from pmm_core.data.case import CaseImages
    from pmm_core.data.preprocess.pipeline import StageTimes, preprocess_case

    options = PreprocessOptions(register=True, skull_strip=False, crop_size=32, in_plane_spacing=6.0)
    images = {m: _image(ttg_case, m) for m in ("T1", "DWI", "ADC")}
    shared_times = StageTimes()
    shared = preprocess_case(CaseImages("x", images), options, shared_times)
    assert shared.transforms["ADC"] == shared.transforms["DWI"] and shared.transforms["DWI"] != [0.0] * 6
    points = brain_points(ttg_case)
    assert registration_error_mm(shared.transform("ADC"), ttg_case, "T1", "ADC", points) < TOLERANCE_MM

    moved = sitk.Image(images["ADC"])  # the same voxels half a voxel away: no longer the DWI's grid
    moved.SetOrigin([o + s / 2 for o, s in zip(moved.GetOrigin(), moved.GetSpacing())])
    alone_times = StageTimes()
    alone = preprocess_case(CaseImages("x", {**images, "ADC": moved}), options, alone_times)
    assert alone.transforms["ADC"] != alone.transforms["DWI"]
    assert alone_times["register"] > shared_times["register"]
