"""Scores inside the lesion: the contrast ratio's meaning (1 right, 0 missing, 0.5 half as
conspicuous), every row set scoring the lesion apart, the montage's slice, and a site without
labels said as such."""
from __future__ import annotations

import numpy as np
import pytest

from pmm_core.data.intensity import VolumeIntensity, learn_standardization
from pmm_core.evaluation.evaluate import MethodScore, _example
from pmm_core.evaluation.lesion import contrast_ratio, lesion_region, region_psnr
from pmm_core.evaluation.protocols import TruthView, score_protocol
from pmm_core.evaluation.report import format_table, table_rows
from pmm_core.tasks import parse_task


def _brain_with_lesion() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth, brain mask, label): healthy tissue at 0.4, a lesion at 0.8 (Weber contrast 1)."""
    truth = np.zeros((8, 32, 32), dtype=np.float32)
    truth[:, 4:28, 4:28] = 0.4
    label = np.zeros(truth.shape, dtype=np.uint8)
    label[2:6, 10:18, 10:18] = 2
    truth[label > 0] = 0.8
    return truth, (truth > 0).astype(np.uint8), label


def test_contrast_ratio_reads_as_documented() -> None:
    truth, mask, label = _brain_with_lesion()
    lesion, brain = lesion_region(label, mask), mask > 0
    assert contrast_ratio(truth, truth, label, lesion, brain) == pytest.approx(1.0)
    missing = np.where(lesion, 0.4, truth)          # the healthy tissue right, the lesion not drawn
    assert contrast_ratio(missing, truth, label, lesion, brain) == pytest.approx(0.0, abs=1e-6)
    half = np.where(lesion, 0.6, truth)             # stands out half as much
    assert contrast_ratio(half, truth, label, lesion, brain) == pytest.approx(0.5)
    assert contrast_ratio(truth * 2, truth, label, lesion, brain) == pytest.approx(1.0)  # a ratio, not a level
    isointense = np.where(brain, 0.4, 0).astype(np.float32)
    assert contrast_ratio(truth, isointense, label, lesion, brain) is None  # no lesion to see in this sequence
    assert region_psnr(missing, truth, lesion) == pytest.approx(10 * np.log10(1 / 0.16), abs=1e-4)
    assert lesion_region(None, mask) is None and lesion_region(np.zeros_like(label), mask) is None


def test_a_glioma_is_judged_by_the_compartments_the_sequence_shows() -> None:
    """T1C: the oedema about as bright as healthy tissue, the rim twice as bright. The whole
    lesion's mean sits near healthy tissue, so a ratio over it would divide by almost nothing;
    pooled over the compartments the truth shows, a rim at half its brightness reads 0.5."""
    truth, mask, _ = _brain_with_lesion()
    label = np.zeros(truth.shape, dtype=np.uint8)
    label[2:6, 8:20, 8:20] = 2                      # oedema
    label[2:6, 12:16, 12:16] = 4                    # enhancing rim inside it
    truth = np.where(label == 2, 0.39, np.where(label == 4, 0.8, truth)).astype(np.float32)
    lesion, brain = lesion_region(label, mask), mask > 0
    assert contrast_ratio(truth, truth, label, lesion, brain) == pytest.approx(1.0)
    half_rim = np.where(label == 4, 0.6, truth)
    assert contrast_ratio(half_rim, truth, label, lesion, brain) == pytest.approx(0.5)
    no_rim = np.where(label == 4, 0.4, truth)
    assert contrast_ratio(no_rim, truth, label, lesion, brain) == pytest.approx(0.0, abs=1e-6)
    # a bright oedema and a dark necrosis (FLAIR-like): both count, each by its own sign
    flair = np.where(label == 2, 0.8, np.where(label == 4, 0.2, truth)).astype(np.float32)
    assert contrast_ratio(flair, flair, label, lesion, brain) == pytest.approx(1.0)
    oedema_only = np.where(label == 4, 0.4, flair)  # the oedema (contrast 1) right, the dark core (-0.5) lost
    assert contrast_ratio(oedema_only, flair, label, lesion, brain) == pytest.approx(1 / 1.5)


def test_every_row_set_scores_the_lesion_apart_and_a_missing_lesion_shows() -> None:
    truth, mask, label = _brain_with_lesion()
    intensity = VolumeIntensity(anchor=1.0, low=0.0, high=1.0, top=1.0)
    site = learn_standardization("percentile", [{"FLAIR": intensity}])
    view = TruthView("c", truth, truth, mask, label, intensity, "FLAIR", site)
    missing = np.where(label > 0, 0.4, truth).astype(np.float32)
    for protocol in ("model", "common", "brasyn"):
        exact, lost = score_protocol(protocol, view, truth), score_protocol(protocol, view, missing)
        assert exact.psnr_lesion == 100.0 and exact.contrast == pytest.approx(1.0, abs=1e-3), protocol
        assert lost.contrast < 0.2, protocol
        if protocol != "brasyn":  # BraSyn rescales each volume: the missing lesion's brain is lifted instead
            assert lost.psnr_lesion < 20 and lost.ssim_lesion < exact.ssim_lesion, protocol
            assert lost.psnr > lost.psnr_lesion  # the whole slice hides what the lesion shows
    unlabelled = TruthView("c", truth, truth, mask, None, intensity, "FLAIR", site)
    assert score_protocol("model", unlabelled, missing).psnr_lesion is None


def test_a_site_without_labels_is_said_and_the_montage_takes_the_largest_lesion() -> None:
    truth, mask, label = _brain_with_lesion()
    view = TruthView("c", truth, truth, mask, None, VolumeIntensity(anchor=1.0, low=0.0, high=1.0, top=1.0),
                     "FLAIR", learn_standardization("percentile", [{"FLAIR": VolumeIntensity(anchor=1.0, low=0.0, high=1.0, top=1.0)}]))
    summary = {"T1_to_FLAIR": {"pmm": MethodScore.of([score_protocol("model", view, truth)])}}
    text = format_table(table_rows("GEN", summary, "model", "percentile"))
    assert "GEN: no lesion label in the scored cases" in text
    label[4, 8:20, 8:20] = 1  # slice 4 now holds the largest lesion, though every slice has as much brain
    example = _example(parse_task("T1->FLAIR"), "c", mask, lesion_region(label, mask), truth[None], truth, truth)
    assert example.slice_index == 4 and example.lesion is not None and example.lesion.sum() == 144
    plain = _example(parse_task("T1->FLAIR"), "c", mask, None, truth[None], truth, truth)
    assert plain.lesion is None and plain.area[0] == 0


def test_the_montage_draws_each_panel_in_its_column_and_outlines_the_lesion() -> None:
    """Source grey, truth white, synthesis black: read back from the rendered figure at each
    panel's centre, in the order of the columns, with the lesion's outline in red on the truth."""
    import matplotlib.pyplot as plt

    from pmm_core.evaluation.evaluate import Example
    from pmm_core.evaluation.montage import GAP, TITLE_SPACE, montage_figure

    size = 48
    lesion = np.zeros((size, size), dtype=bool)
    lesion[16:32, 16:32] = True
    example = Example("T1->FLAIR", np.full((1, size, size), 0.5, np.float32), np.zeros((size, size), np.float32),
                      np.ones((size, size), np.float32), "c", 3, lesion)
    figure = montage_figure("GEN", [example], "pmm")
    figure.canvas.draw()
    rgba = np.asarray(figure.canvas.buffer_rgba())
    axis, step = figure.axes[0], size + round(GAP * size)

    def pixel(x: float, y: float) -> np.ndarray:
        column, row = axis.transData.transform((x, y))
        return rgba[int(round(figure.bbox.height - row)), int(round(column)), :3].astype(int)

    y = round(TITLE_SPACE * size) + size / 2
    centres = {name: pixel(index * step + 4, y) for index, name in enumerate(("source", "truth", "pmm", "error"))}
    assert abs(centres["source"] - 128).max() < 20 and (centres["truth"] > 235).all()
    assert (centres["pmm"] < 20).all() and (centres["error"] > 235).all()  # |0 - 1|
    def reddish(index: int) -> int:  # pixels of one panel where red stands out of grey
        (left, top), (right, bottom) = (axis.transData.transform((index * step + x, y + d))
                                        for x, d in ((0, -size / 2), (size, size / 2)))
        panel = rgba[int(figure.bbox.height - top):int(figure.bbox.height - bottom),
                     int(left):int(right), :3].astype(int)
        return int(((panel[..., 0] - panel[..., 1]) > 60).sum())

    assert reddish(1) > 20 and reddish(2) > 20, "the lesion is outlined on the truth and the synthesis"
    assert reddish(0) == 0 and reddish(3) == 0  # not on the sources or the error map
    plt.close(figure)
