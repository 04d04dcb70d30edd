"""The benchmarks run end to end at toy sizes and write their result files (numbers are not
checked here: speed is measured by `make bench`, never by a timed test)."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest


def run_bench(tmp_path: Path, name: str, *args: str) -> dict:
    """One benchmark's `main` in this process, as `python -m bench` runs them one after another
    (a process per benchmark would pay torch's import each time), its results in `tmp_path`."""
    import bench.common

    module = importlib.import_module(f"bench.{name}")
    committed, bench.common.RESULTS = bench.common.RESULTS, tmp_path  # a smoke run never overwrites them
    try:
        module.main(list(args))
    finally:
        bench.common.RESULTS = committed
    assert (tmp_path / f"{name}.md").read_text().strip()
    result = json.loads((tmp_path / f"{name}.json").read_text())
    assert result["machine"]["cores"] and result["machine"]["torch"]
    return result


def test_mcbs_speedup_times_both_samplers(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "mcbs_speedup", "--sizes", "32", "--seconds", "0.5", "--budget", "0",
                       "--cases", "2", "--slices", "4")
    samplers = {row["sampler"]: row for row in result["timing"]}
    assert samplers["naive"]["batch_size"] == 1 and samplers["mcbs"]["batch_size"] == 16
    # MCBS pads every (site, pattern) group to whole batches: its epoch holds at least every slice
    assert samplers["mcbs"]["epoch_slices"] >= samplers["naive"]["epoch_slices"]
    assert result["naive_over_mcbs_epoch"]["32"] > 0


def test_open_cases_compares_pread_with_maps_kept_open(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "open_cases", "--size", "16", "--cases", "100", "--slices", "2",
                       "--max-slices", "200", "--workers", "0")
    held = {row["reader"]: row["descriptors_held"] for row in result["rows"]}
    assert held["pread per slice (pmm)"] == 0 and held["all maps kept open (before)"] >= 100  # image and mask


def test_lesion_maps_times_the_default_recipes_data_path(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "lesion_maps", "--size", "16", "--cases", "40", "--slices", "2",
                       "--max-slices", "100", "--workers", "0")
    assert [row["variant"] for row in result["rows"]] == ["no lesion maps (paper)", "pooled maps (default)", "balanced maps"]
    assert all(row["slices_per_s"] > 0 for row in result["rows"]) and result["flagged_fraction"] == 1.0  # every case has a tumour


def test_pipeline_headroom_and_backbone_cost(tmp_path: Path) -> None:
    headroom = run_bench(tmp_path, "pipeline_headroom", "--sizes", "32", "--seconds", "0.5", "--max-slices", "200")
    row = headroom["rows"][0]
    assert row["headroom"] == pytest.approx(row["pipeline_slices_per_s"] / row["model_slices_per_s"], rel=0.05)
    cost = run_bench(tmp_path, "backbone_cost", "--size", "32", "--seconds", "0.5")
    by = {row["model"]: row for row in cost["rows"]}
    single = by["single-stream pix2pix"]
    assert single["generator_parameters"] < by["pmm w/o PFM (multi-stream)"]["generator_parameters"] \
        < by["pmm (multi-stream + PFM)"]["generator_parameters"]
    assert single["slowdown_vs_single"] == 1.0


def test_memory_peak_grows_with_batch(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "memory_peak", "--model", "small", "--size", "64", "--batch-sizes", "1", "16")
    small, large = result["rows"]
    assert large["peak_rss_mib"] > small["peak_rss_mib"] >= small["rss_before_step_mib"]


def test_prepare_and_synthesize_speed_at_test_size(tmp_path: Path) -> None:
    prepare = run_bench(tmp_path, "prepare_speed", "--size", "test", "--legacy-pairs", "1", "--sites", "BraTS", "ISLES")
    assert {row["site"] for row in prepare["rows"]} == {"BraTS", "ISLES"}
    timed = [pair for pair in prepare["pairs"] if "old_s" in pair]
    assert len(timed) == 1 and all(pair["new_error_mm"] < pair["identity_error_mm"] for pair in prepare["pairs"])
    synthesis = run_bench(tmp_path, "synthesize_speed", "--size", "test", "--model", "small", "--patients", "1")
    row = synthesis["rows"][0]
    assert row["single_s_per_patient"] > 0 and row["batch_s_per_patient"] > 0 and "register" in row["stages_s"]


def test_decoder_activation_times_both_ways(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "decoder_activation", "--size", "32", "--steps", "1")
    rows = {row["site"]: row for row in result["training"]}
    assert rows["ISLES (3 of 6)"]["modalities"] == ["FLAIR", "DWI", "ADC"] and len(rows) == 6
    assert all(row["speedup"] > 0 for row in rows.values()) and result["inference"]["speedup"] > 0


def test_evaluate_protocols_times_both_row_sets(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "evaluate_protocols", "--size", "test", "--sites", "ISLES")
    rows = {row["site"]: row for row in result["rows"]}
    assert set(rows) == {"ISLES"} and all(r["scored_per_task"] > 0 for r in rows.values())
    assert all(r["all_protocols_s"] > 0 and r["model_only_s"] > 0 for r in rows.values())


def test_method_cost_times_the_three_methods(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "method_cost", "--size", "32", "--seconds", "0.3", "--slices", "4")
    rows = {row["method"]: row for row in result["rows"]}
    assert set(rows) == {"PMM-Synth", "pix2pix", "MM-GAN"} and rows["PMM-Synth"]["training_time_vs_pmm"] == 1.0
    assert all(row["slices_per_s"] > 0 and row["inference_s_per_slice"] > 0 for row in rows.values())


def test_precision_speed_startup_time_and_step_profile(tmp_path: Path) -> None:
    precision = run_bench(tmp_path, "precision_speed", "--models", "small", "--size", "32", "--batch-sizes", "2",
                          "--seconds", "0.1", "--inference-repeats", "1", "--budget", "0")
    combos = {(r["precision"], r["channels_last"]) for r in precision["training"]}
    assert combos == {(p, c) for p in ("float32", "bfloat16") for c in (False, True)}
    assert all(r["slices_per_s"] > 0 for r in precision["training"]) and len(precision["inference"]) == 4
    startup = run_bench(tmp_path, "startup_time", "--repeats", "1", "--commands", "evaluate")
    rows = {row["command"]: row for row in startup["rows"]}
    assert rows["pmm --help"]["imports_ms"] == {}  # the help imports no torch, MLflow, Flower, SimpleITK
    assert "torch" not in rows["pmm evaluate (first check fails)"]["imports_ms"]  # a wrong site fails first
    profile = run_bench(tmp_path, "step_profile", "--methods", "pmm-synth", "mmgan", "--size", "64", "--rows", "5")
    assert [r["method"] for r in profile["rows"]] == ["pmm-synth", "mmgan"]
    assert all("aten::" in r["table"] and r["device_syncs"] is None for r in profile["rows"])  # CPU: no CUDA count


def test_lesion_budget_measures_batches_ceiling_training_and_sigmoid(tmp_path: Path, prepared_phantom: Path) -> None:
    result = run_bench(tmp_path, "lesion_budget", "--phantom", str(prepared_phantom), "--chunks", "1",
                       "--chunk-seconds", "1")
    batches = {row["site"]: row for row in result["batches"]}
    assert batches["BraTS"]["labelled"] and 0 < batches["BraTS"]["lesion_of_brain_pixels_pct"] < 100
    assert not batches["TTI"]["labelled"]  # the phantom's TTI has no label: said, not counted as lesion-free
    assert any(row["modality"] == "FLAIR" and row["cases"] == "unseen" for row in result["clip"])
    assert result["training"][0]["steps"] >= 1 and "match_psnr_lesion" in result["training"][0]
    assert result["sigmoid"] and all(0 <= row["lesion_saturated_pct"] <= 100 for row in result["sigmoid"])


def test_montage_cost_draws_both_ways_on_every_site(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "montage_cost", "--size", "test", "--crop", "32", "--repeats", "1", "--sites", "TTG", "ISLES")
    rows = {row["site"]: row for row in result["rows"]}
    assert set(rows) == {"TTG", "ISLES"} and all(r["tasks"] == 4 and r["panels"] > 4 * 4 for r in rows.values())
    assert all(r["tiled_png_kib"] > 0 and r["per_axes_png_kib"] > 0 and r["speedup"] > 0 for r in rows.values())
