"""Synthesis at native size: seconds per patient, one `pmm synthesize` call each against one cohort call.

Patients are full-size TTG phantom cases (six series, 192-512 matrices, thick oblique slices,
each series moved a few mm) with one series (FLAIR by default) removed. The single form runs
the real `pmm synthesize --input ...` once per patient (start-up, model load, registration,
deepbet, synthesis, write); the batch form runs `pmm synthesize --cohort` once for all of them,
so the start-up is paid once. The model is the paper's size (untrained weights: speed does not
depend on them) unless `--model small`.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import write_results
from bench.training_speed import model_options
from pmm_core.config.training import TrainingOptions
from pmm_core.data.intensity import ModalityScale, SiteStandardization, VolumeIntensity
from pmm_core.data.records import SiteRecord
from pmm_core.models import build_model
from pmm_core.phantom.federation import case_paths, site_toml, write_case
from pmm_core.phantom.generator import CaseSynthesizer
from pmm_core.phantom.sites import SITES
from pmm_core.training.checkpoint import save_checkpoint

PMM = str(Path(sys.executable).parent / "pmm")


def write_cohort(root: Path, patients: int, target: str, full: bool = True, dicom: bool = False) -> Path:
    """TTG cases (full size unless told; DICOM series folders when asked) under root/TTG without
    `target`, and root/sites/ttg.toml. The same seed gives the same cases in either format."""
    site = SITES[0]
    rng = np.random.default_rng([0, site.dataset_id])
    for index in range(patients):
        case_id = f"TTG_{index + 1:03d}"
        case = CaseSynthesizer(site, 1 if full else 2, not full, rng).make(case_id, site.modalities)
        write_case(site, root / "TTG", case, index, dicom)
        removed = case_paths(site, root / "TTG", case_id, index, dicom)[target]
        shutil.rmtree(removed) if dicom else removed.unlink()
    toml = root / "sites" / "ttg.toml"
    toml.parent.mkdir(parents=True, exist_ok=True)
    toml.write_text(site_toml(site, test_size=not full, dicom=dicom))
    return toml


def write_checkpoint(path: Path, width: str) -> int:
    """An untrained model of `width` recorded as trained on TTG in the tissue scheme (healthy tissue
    at the phantom's scanner level), which is all timing needs."""
    options = TrainingOptions(model=model_options(width))
    model = build_model(options.model)
    site = SITES[0]
    level = site.intensity_scale * 0.5
    typical = VolumeIntensity(anchor=level, low=0.1 * level, high=2.5 * level, top=3.0 * level)
    intensity = SiteStandardization(scheme="tissue", modalities={m: ModalityScale(upper=3.0, typical=typical)
                                                                   for m in site.modalities})
    record = SiteRecord(name=site.name, dataset_id=site.dataset_id, modalities=list(site.modalities), site_dir="",
                        intensity=intensity)
    save_checkpoint({"config": options.model_dump(mode="json"), "model": model.state_dict(),
                     "sites": [record.model_dump()]}, path)
    return sum(p.numel() for p in model.parameters())


def run(*args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([PMM, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pmm {' '.join(args[:1])} failed: {done.stderr[-1500:]}")
    return time.perf_counter() - start


def stage_seconds(root: Path, toml: Path, target: str) -> dict[str, float]:
    """Where one patient's time goes, measured in this process: model load, read, each preprocessing
    stage, the model over all slices, resampling back and writing (the cohort form's per-patient work)."""
    import torch

    from pmm.inference.model_loading import load_trained_model
    from pmm.inference.synthesize import model_inputs, synthesize_target, write_synthesis
    from pmm_core.config.site import load_site
    from pmm_core.data.preprocess.pipeline import StageTimes
    from pmm_core.data.readers import discover_cases, load_case

    times = StageTimes()
    with times.stage("load_model"):
        trained = load_trained_model(root / "model.pt", torch.device("cpu"))
    site = load_site(toml)
    source = discover_cases(site)[0][0]
    with times.stage("read"):
        record = load_case(source, site)
    inputs = model_inputs(trained, site, record, times)  # register, skull_strip, resample, intensity
    with times.stage("model_resample_write"):
        write_synthesis(synthesize_target(trained, inputs, target), trained, site, root / "stages" / "out.nii.gz")
    return {k: round(v, 2) for k, v in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=3, help="full-size patients synthesised each way")
    parser.add_argument("--model", choices=("paper", "small"), default="paper")
    parser.add_argument("--target", default="FLAIR")
    parser.add_argument("--size", choices=("full", "test"), default="full", help="phantom size (default: native)")
    args = parser.parse_args(argv)
    print(f"synthesize_speed: {args.patients} {args.size}-size TTG patients, {args.model} model, target {args.target}; "
          "one pmm call per patient against one cohort call")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        toml = write_cohort(root, args.patients, args.target, args.size == "full")
        parameters = write_checkpoint(root / "model.pt", args.model)
        common = ("--checkpoint", str(root / "model.pt"), "--site", str(toml), "--target", args.target)
        single = []
        for index in range(args.patients):
            case = root / "TTG" / f"TTG_{index + 1:03d}"
            inputs = [f"--input={f.name.split('_')[-1].split('.')[0]}={f}" for f in sorted(case.glob("*.nii.gz"))
                      if not f.name.endswith("_seg.nii.gz")]
            single.append(run("synthesize", *common, *inputs, "--out", str(root / "single" / f"{case.name}.nii.gz")))
            print(f"single form, patient {index + 1}: {single[-1]:.1f} s")
        batch = run("synthesize", *common, "--cohort", str(root / "TTG"), "--out", str(root / "cohort"), "--quiet")
        print(f"batch form, {args.patients} patients: {batch:.1f} s")
        stages = stage_seconds(root, toml, args.target)
        print("one patient, by stage: " + ", ".join(f"{k} {v} s" for k, v in stages.items()))
    row = {"patients": args.patients, "model": args.model, "parameters": parameters,
           "single_s_per_patient": round(float(np.mean(single)), 1), "single_s": [round(s, 1) for s in single],
           "batch_s_total": round(batch, 1), "batch_s_per_patient": round(batch / args.patients, 1),
           "single_over_batch": round(float(np.mean(single)) / (batch / args.patients), 2), "stages_s": stages}
    table = ["| model | parameters | patients | single form s/patient | batch form s/patient | single/batch |",
             "|---|---|---|---|---|---|",
             f"| {args.model} | {parameters:,} | {args.patients} | {row['single_s_per_patient']} | "
             f"{row['batch_s_per_patient']} | {row['single_over_batch']}x |",
             "", "one patient, by stage (s): " + ", ".join(f"{k} {v}" for k, v in stages.items())]
    write_results("synthesize_speed", {"config": vars(args), "rows": [row]}, table)


if __name__ == "__main__":
    main()
