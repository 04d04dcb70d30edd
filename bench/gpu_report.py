"""bench/gpu_check's results as markdown: one section per stage, failed stages with their error."""
from __future__ import annotations


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]


def _stage_lines(name: str, stage: dict) -> list[str]:
    if not stage["ok"]:
        return [f"**failed** after {stage['seconds']} s: `{stage['error'][-400:]}`"]
    if name == "environment":
        return [", ".join(f"{k} {v}" for k, v in stage.items() if k not in ("ok", "seconds"))]
    if name == "phantom":
        done = "reused from an earlier run" if stage["reused"] else f"written and prepared in {stage['seconds']} s"
        return [f"{stage['cases_per_site']} {stage['size']}-size cases per site, {done}"] + \
            _table(["site", "cases", "slices"], [[s["site"], s["cases"], s["slices"]] for s in stage["sites"]])
    if name == "precision":
        return [f"{stage['model']} model, {stage['size']}x{stage['size']}, batch {stage['batch_size']}"] + \
            _table(["precision", "layout", "slices/s", "× float32", "peak GiB"],
                   [[r["precision"], "channels-last" if r["channels_last"] else "contiguous", r["slices_per_s"],
                     r["speedup"], r["peak_gib"]] for r in stage["rows"]])
    if name == "mcbs":
        return [f"epoch time naive / MCBS: {stage['naive_over_mcbs_epoch']}x (paper, A100: {stage['paper_a100']}x)"] + \
            _table(["sampler", "batch", "s/step", "s per epoch"],
                   [[r["sampler"], r["batch_size"], r["seconds_per_step"], r["seconds_per_epoch"]] for r in stage["rows"]])
    if name == "torchrun":
        return [f"{stage['steps']} steps, backend {stage['backend']}, world size {stage['world_size']}, "
                f"{stage['seconds']} s with start-up"]
    if name == "train":
        quality = stage["quality"]
        lines = [f"{stage['steps']} steps ({stage['epochs']} epochs) in {stage['train_s']} s, {stage['precision']} "
                 f"{stage['layout']}, peak {stage['peak_gib']} GiB; test split: brain PSNR {quality['brain_psnr']} dB, "
                 f"lesion PSNR {quality['lesion_psnr']} dB"]
        return lines + _table(["site", "task", "method", "PSNR", "SSIM"],
                              [[r["site"], r["task"], r["method"], round(r["psnr_mean"], 2), round(r["ssim_mean"], 3)]
                               for r in stage["rows"]])
    if name == "synthesize":
        return [f"`pmm synthesize`, {stage['patients']} full-size patients: {stage['mean_s']} s per patient "
                f"({', '.join(map(str, stage['s_per_patient']))})"]
    return []


def markdown(results: dict) -> str:
    lines = ["# bench/gpu_check", ""]
    for name, stage in results["stages"].items():
        lines += [f"## {name} ({stage['seconds']} s)", ""] + _stage_lines(name, stage) + [""]
    return "\n".join(lines) + "\n"
