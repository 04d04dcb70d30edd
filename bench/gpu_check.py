"""The GPU run, prepared: one command that checks and measures what only a GPU can show.

    python -m bench.gpu_check --out DIR            # on one GPU (an H200 with 16 cores: < 8 minutes)
    python -m bench.gpu_check --out DIR --tiny     # the same stages on CPU at toy sizes (the test)

Stages, each timed, each recorded even when it fails (the results are rewritten after every
stage, so a run cut short still says how far it got):
1. phantom: the full-size phantom federation written (one process per site) and prepared (the
   four sites at once, each with a quarter of the cores), as a hospital's scans would be;
2. precision: the paper-size model's training step at 192x192, batch 16, float32 against bfloat16
   autocast, contiguous against channels-last, with peak GPU memory;
3. mcbs: MCBS batch 16 against the naive batch-1 sampler at 192x192 (the paper: 4.2x on an A100);
4. torchrun: `torchrun --nproc_per_node 1` of the centralized trainer over NCCL (gloo on CPU);
5. train: the full model for a fixed number of minutes on the prepared federation (its step
   count from the measured rate), then every site's test split scored: PSNR/SSIM against the
   linear baselines in all row sets, and PSNR over the brain and inside the lesion label;
6. synthesize: seconds per patient of the real `pmm synthesize` on full-size TTG cases.
MLflow and Flower are not needed (the GPU machine has neither; see bench/gpu_check.sh for the
wheels it needs).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

import torch

from bench.common import peak_gpu_gib, reset_peak_gpu_memory
from bench.training_speed import model_options

SITES = ("ttg", "tti", "brats", "isles")
ROOT = Path(__file__).resolve().parent.parent


def environment(args, work: Path) -> dict:
    cuda = torch.cuda.is_available()
    return {"torch": torch.__version__, "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "bf16_supported": bool(cuda and torch.cuda.is_bf16_supported()), "cpu_cores": os.cpu_count(),
            "nccl": bool(torch.distributed.is_available() and torch.distributed.is_nccl_available()),
            "python": sys.version.split()[0]}


def phantom(args, work: Path) -> dict:
    """pmm's own phantom builder (the one the demo, the experiments and the tests use): the four
    sites written one process each and prepared at once, each with a quarter of the cores. A
    finished federation of the same settings in `--work` is reused, as the demo reuses one."""
    from pmm_core.data.fingerprint import load_fingerprint
    from pmm_core.phantom.prepared import ensure_phantom_federation, phantom_ready

    out, size = work / "phantom", "test" if args.tiny else "full"
    reused = phantom_ready(out, args.cases, 0, size)
    ensure_phantom_federation(out, args.cases, 0, echo=lambda _: None, size=size)
    sites = []
    for fingerprint in map(load_fingerprint, _site_dirs(work)):
        sites.append({"site": fingerprint.site, "cases": sum(len(v) for v in fingerprint.split.values()),
                      "slices": fingerprint.num_slices})
    return {"size": size, "cases_per_site": args.cases, "reused": reused, "sites": sites}


def precision(args, work: Path) -> dict:
    """bench/precision_speed's training measurement on the paper's setting, with peak GPU memory."""
    from bench.precision_speed import training_rows

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    setting = SimpleNamespace(models=[args.model], batch_sizes=[args.batch], size=args.size, seconds=args.seconds)
    rows = training_rows(setting, device, work, combinations=(("float32", False), ("bfloat16", False),
                                                               ("bfloat16", True)), min_steps=2)
    return {"model": args.model, "size": args.size, "batch_size": args.batch, "rows": rows}


def mcbs(args, work: Path) -> dict:
    from bench.mcbs_speedup import timing_rows

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    settings = SimpleNamespace(sizes=[args.size], cases=3, slices=24 if not args.tiny else 4, batch_size=args.batch,
                               model=args.model, seconds=args.seconds)
    rows = timing_rows(settings, device)
    by = {r["sampler"]: r for r in rows}
    return {"rows": rows, "naive_over_mcbs_epoch": round(by["naive"]["seconds_per_epoch"] /
                                                         by["mcbs"]["seconds_per_epoch"], 2), "paper_a100": 4.2}


def _training_options(args):
    from pmm_core.config.training import TrainingOptions

    return TrainingOptions(batch_size=args.batch, num_workers=0 if args.tiny else 4, model=model_options(args.model))


def _site_dirs(work: Path) -> list[Path]:
    from pmm_core.data.site_caches import site_cache_dirs

    return site_cache_dirs([work / "phantom" / "sites" / f"{name}.toml" for name in SITES], work / "phantom" / "cache")


def ddp_training(work: Path, steps: int, tiny: bool) -> None:
    """What torchrun runs: the centralized trainer (no MLflow) for `steps` steps."""
    from pmm.centralized.distributed import init_distributed
    from pmm.centralized.trainer import CentralTrainer, RunSettings

    args = SimpleNamespace(batch=4 if tiny else 16, tiny=tiny, model="small" if tiny else "paper")
    dist = init_distributed()
    try:
        settings = RunSettings(run_dir=work / "ddp", max_steps=steps, checkpoint_every=0, progress=False)
        trainer = CentralTrainer(_training_options(args), _site_dirs(work), settings, dist)
        outcome = trainer.train()
        if dist.is_main:
            (work / "ddp.json").write_text(json.dumps({"steps": outcome.global_step, "backend": dist.backend,
                                                       "world_size": dist.world_size}))
    finally:
        dist.close()


def torchrun(args, work: Path) -> dict:
    steps = 3 if args.tiny else 20
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
                           "-m", "bench.gpu_check", "--ddp-work", str(work), "--ddp-steps", str(steps)]
                          + (["--tiny"] if args.tiny else []), cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"torchrun exited {done.returncode}: {done.stderr[-1500:]}")
    return {**json.loads((work / "ddp.json").read_text()), "seconds": round(time.perf_counter() - started, 1)}


def train(args, work: Path, results: dict) -> dict:
    """The full model for `--train-minutes` (steps from the measured rate), then the test split scored."""
    from pmm.centralized.distributed import init_distributed
    from pmm.centralized.trainer import CentralTrainer, RunSettings
    from pmm_core.evaluation.evaluate import evaluate_site
    from pmm_core.evaluation.lesion_quality import lesion_and_brain_psnr
    from pmm_core.evaluation.report import evaluation_rows
    from pmm_core.tasks import default_tasks
    from pmm_core.data.fingerprint import load_fingerprint

    measured = results.get("precision", {}).get("rows", [{}])
    rate = max((r.get("slices_per_s", 0.0) for r in measured), default=0.0) or 1.0
    steps = max(2, int(args.train_minutes * 60 * rate / args.batch))
    reset_peak_gpu_memory()
    started = time.perf_counter()
    dist = init_distributed()
    trainer = CentralTrainer(_training_options(args), _site_dirs(work),
                             RunSettings(run_dir=work / "run", max_steps=steps, checkpoint_every=0, progress=False), dist)
    outcome = trainer.train()
    trained_s = time.perf_counter() - started
    precision_used = trainer.recipe.precision
    rows = []
    for site_dir in trainer.site_dirs:
        fingerprint = load_fingerprint(site_dir)
        result = evaluate_site(trainer.model, site_dir, default_tasks(fingerprint.site, fingerprint.modalities), "test",
                               dist.device, 16, precision=precision_used)
        rows += evaluation_rows(result)
    lesion = lesion_and_brain_psnr(trainer.model, trainer.site_dirs, dist.device, precision_used, split="test")
    return {"steps": outcome.global_step, "epochs": outcome.epoch, "train_s": round(trained_s, 1),
            "precision": precision_used.name, "layout": precision_used.layout, "peak_gib": peak_gpu_gib(),
            "checkpoint": str(outcome.last_checkpoint), "quality": lesion,
            "rows": [r for r in rows if r["protocol"] == "model"]}


def synthesize(args, work: Path) -> dict:
    """Seconds per patient of the real `pmm synthesize` (start-up and model load included)."""
    from pmm_core.config.site import load_site
    from pmm_core.data.readers import discover_cases

    checkpoint = work / "run" / "last.pt"
    toml = work / "phantom" / "sites" / "ttg.toml"
    cases = discover_cases(load_site(toml))[0][:args.patients]
    seconds = []
    for index, case in enumerate(cases):
        inputs = [f"--input={m}={p}" for m, p in case.files.items() if m != "FLAIR"]
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pmm", "synthesize", "--checkpoint", str(checkpoint), "--site",
                               str(toml), *inputs, "--target", "FLAIR", "--out", str(work / f"syn{index}.nii.gz"),
                               "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"pmm synthesize exited {done.returncode}: {done.stderr[-1500:]}")
        seconds.append(time.perf_counter() - started)
    return {"patients": len(seconds), "s_per_patient": [round(s, 1) for s in seconds],
            "mean_s": round(sum(seconds) / max(len(seconds), 1), 1)}


STAGES = ("environment", "phantom", "precision", "mcbs", "torchrun", "train", "synthesize")


def write_report(out: Path, results: dict) -> None:
    from bench.gpu_report import markdown

    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(results, indent=2, default=str))
    (out / "gpu_check.md").write_text(markdown(results))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gpu_check")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: OUT/../gpu_check_work)")
    parser.add_argument("--tiny", action="store_true", help="toy sizes on any device (the CPU test)")
    parser.add_argument("--cases", type=int, default=None, help="phantom cases per site (default 3; tiny 3)")
    parser.add_argument("--train-minutes", type=float, default=None, help="minutes of training (default 2; tiny 0.05)")
    parser.add_argument("--seconds", type=float, default=None, help="timed seconds per speed measurement")
    parser.add_argument("--patients", type=int, default=2, help="patients timed through pmm synthesize")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--ddp-work", type=Path, help=argparse.SUPPRESS)   # torchrun's child
    parser.add_argument("--ddp-steps", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ddp_work is not None:
        return ddp_training(args.ddp_work, args.ddp_steps, args.tiny)
    args.cases = args.cases or 3
    args.train_minutes = args.train_minutes if args.train_minutes is not None else (0.05 if args.tiny else 2.0)
    args.seconds = args.seconds if args.seconds is not None else (0.3 if args.tiny else 10.0)
    args.size, args.batch, args.model = (32, 4, "small") if args.tiny else (192, 16, "paper")
    work = args.work or args.out.parent / "gpu_check_work"
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"config": {k: str(v) for k, v in vars(args).items()}, "stages": {}}
    for stage in STAGES:
        if stage not in args.stages:
            continue
        started = time.perf_counter()
        print(f"[gpu_check] {stage} ...", flush=True)
        try:
            function = globals()[stage]
            value = function(args, work, results["stages"]) if stage == "train" else function(args, work)
            results["stages"][stage] = {"ok": True, "seconds": round(time.perf_counter() - started, 1), **value}
        except Exception as exc:  # noqa: BLE001 - one failed stage must not lose the others' numbers
            results["stages"][stage] = {"ok": False, "seconds": round(time.perf_counter() - started, 1),
                                        "error": f"{type(exc).__name__}: {exc}"[-2000:],
                                        "traceback": traceback.format_exc()[-3000:]}
        print(f"[gpu_check] {stage}: {json.dumps(results['stages'][stage], default=str)[:600]}", flush=True)
        write_report(args.out, results)
    failed = [s for s, r in results["stages"].items() if not r["ok"]]
    print(f"[gpu_check] written {args.out / 'gpu_check.json'}; failed stages: {', '.join(failed) or 'none'}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
