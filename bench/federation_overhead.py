"""Federation: bytes each site sends and receives per round, and the wall time a round costs
beyond the same local epochs run in one process.

Three runs of the same rounds on the same phantom sites, side by side:
- central: pmm's local round (train, validate, save the site state) for every site, one after
  the other in this process, then FedAvg in numpy: the work without Flower;
- `pmm simulate`: SuperLink and one SuperNode per site on 127.0.0.1, one command;
- a loopback deployment: `pmm serve` plus one `pmm client` per site, as separate processes.
Bytes are Flower's own serialized objects (messages.jsonl, `wire_bytes`) against the size of
the shared parameters (the packed vector, pmm_core/federated/packing.py); the parameter names a
reply declares are checked against the shared and the personal ones.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import write_results
from bench.phantom_sites import phantom_sites
from pmm.centralized.demo import demo_training_options
from pmm_core.config.federation import FederationOptions
from pmm_core.config.toml_loading import toml_text
from pmm_core.config.training import TrainingOptions
from pmm_core.federated.local_round import LocalRoundSpec, build_site_model, run_local_round
from pmm_core.federated.partition import PartitionOptions, personal_state, shared_arrays
from pmm.runtime.processes import free_port

PMM = str(Path(sys.executable).parent / "pmm")
PAPER_ARGS = ["--sites", "TTG,TTI,BraTS,ISLES", "--rounds", "3"]  # python -m bench --paper


def nbytes(arrays: dict) -> int:
    return int(sum(np.asarray(a.detach() if isinstance(a, torch.Tensor) else a).nbytes for a in arrays.values()))


def central_rounds(site_dirs: list[Path], options: TrainingOptions, rounds: int, folder: Path) -> list[float]:
    """Seconds per round of the same local rounds without Flower (sites one after the other),
    on the schedule a federation of `rounds` rounds follows."""
    options, partition = FederationOptions(rounds=rounds, training=options).training, PartitionOptions()
    shared, times = None, []
    for number in range(1, rounds + 1):
        started = time.perf_counter()
        results = [run_local_round(LocalRoundSpec(site_dir, folder / "state", options, partition, 1,
                                                  f"central:{number}", progress=False), shared, echo=lambda _: None)
                   for site_dir in site_dirs]
        weights = np.asarray([r.num_examples for r in results], dtype=np.float64)
        shared = {name: sum(w * r.shared[name] for w, r in zip(weights / weights.sum(), results)).astype(np.float32)
                  for name in results[0].shared}
        times.append(time.perf_counter() - started)
    return times


def audit_summary(folder: Path) -> dict:
    """Per round: seconds from sending the global model to the last reply, and the bytes both ways."""
    entries = [json.loads(line) for line in (folder / "messages.jsonl").read_text().splitlines()]
    rounds = {}
    for number in sorted({e["round"] for e in entries if e["stage"] == "send"}):
        send = next(e for e in entries if e["round"] == number and e["stage"] == "send")
        replies = [e for e in entries if e["round"] == number and e["stage"] == "train"]
        rounds[number] = {"seconds": max(e["time"] for e in replies) - send["time"], "down_wire_bytes": send["wire_bytes"],
                          "down_array_bytes": send["array_bytes"], "up_wire_bytes": [e["wire_bytes"] for e in replies],
                          "up_array_bytes": [e["array_bytes"] for e in replies],
                          "reply_names": [sorted(e["parameters"]) for e in replies]}
    return rounds


def run_federation(kind: str, fed: Path, sites: list[str], config: Path, rounds: int, folder: Path) -> tuple[float, dict]:
    """Total wall seconds of one federated run and its audit summary."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    common = ["--rounds", str(rounds), "--config", str(config), "--dir", str(folder / "fed"), "--experiment", "bench",
              "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    tomls = [str(fed / "sites" / f"{s.lower()}.toml") for s in sites]
    cache = ["--cache-dir", str(fed / "cache")]
    started = time.perf_counter()
    if kind == "simulate":
        subprocess.run([PMM, "simulate", "--sites", ",".join(tomls), *cache, "--state-dir", str(folder / "state"), *common],
                       env=env, check=True, capture_output=True, text=True)
    else:
        address = f"127.0.0.1:{free_port()}"
        server = subprocess.Popen([PMM, "serve", "--address", address, "--min-sites", str(len(sites)), *common], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        threads = str(max(1, (os.cpu_count() or 1) // len(sites)))  # the same share simulate gives each site
        clients = [subprocess.Popen([PMM, "client", "--site", toml, "--server", address, *cache, "--state-dir",
                                     str(folder / "state")], env={**env, "OMP_NUM_THREADS": threads},
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for toml in tomls]
        try:
            if server.wait(timeout=1800) != 0:
                raise RuntimeError(f"pmm serve failed; see {folder / 'fed'}")
        finally:
            for client in clients:
                client.terminate()
            for client in clients:
                client.wait(30)
    return time.perf_counter() - started, audit_summary(folder / "fed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", default="BraTS,ISLES", help="phantom sites in the federation")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--phantom-cases", type=int, default=6)
    args = parser.parse_args(argv)
    sites = [s.strip() for s in args.sites.split(",")]
    site_dirs_all, fed = phantom_sites(args.phantom_cases)
    site_dirs = [d for d in site_dirs_all if d.name in sites]
    print(f"federation_overhead: sites {sites}, {args.rounds} rounds of 1 local epoch, the demo's model; "
          "central vs pmm simulate vs pmm serve + pmm client")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "model.toml"
        options, partition = demo_training_options(1), PartitionOptions()
        config.write_text(toml_text(options))  # for the command lines of pmm simulate / serve
        model = build_site_model(options)
        shared, personal = shared_arrays(model, partition), personal_state(model, partition)
        runs = {"central": {"round_seconds": central_rounds(site_dirs, options, args.rounds, folder / "central")}}
        print(f"central: rounds {[round(t, 1) for t in runs['central']['round_seconds']]} s")
        for kind in ("simulate", "deployment"):
            total, rounds = run_federation(kind, fed, sites, config, args.rounds, folder / kind)
            runs[kind] = {"total_seconds": round(total, 1), "round_seconds": [r["seconds"] for r in rounds.values()],
                          "rounds": rounds}
            print(f"{kind}: total {total:.1f} s, rounds {[round(r['seconds'], 1) for r in rounds.values()]} s")
    shared_bytes, personal_bytes = nbytes(shared), nbytes(personal)
    replies = [names for run in ("simulate", "deployment") for r in runs[run]["rounds"].values() for names in r["reply_names"]]
    leaked = sorted({n for names in replies for n in names} & set(personal))
    packed = [b for run in ("simulate", "deployment") for r in runs[run]["rounds"].values()
              for b in r["up_array_bytes"] + [r["down_array_bytes"]]]
    # array bytes are numpy's serialization: the values plus a header of at most a few hundred bytes
    exact = all(names == sorted(shared) for names in replies) and all(0 <= b - shared_bytes <= 256 for b in packed)
    central = float(np.mean(runs["central"]["round_seconds"]))
    summary = {"shared_parameters": int(sum(np.asarray(a).size for a in shared.values())), "shared_bytes": shared_bytes,
               "personal_parameters": int(sum(p.numel() for p in personal.values())), "personal_bytes": personal_bytes,
               "replies_are_exactly_shared": exact, "personal_names_sent": leaked, "central_round_s": round(central, 2)}
    table = [f"Shared parameters {summary['shared_parameters']:,} ({shared_bytes / 2 ** 20:.2f} MiB); personal "
             f"{summary['personal_parameters']:,} ({personal_bytes / 2 ** 20:.2f} MiB), never sent: "
             f"{'yes' if not leaked else 'NO: ' + ', '.join(leaked)}; every message's array holds exactly the shared "
             f"parameters, named in its layout: {exact}.", "",
             "| run | round | s | s over central | down bytes (over shared) | up bytes per site (over shared) |",
             "|---|---|---|---|---|---|"]
    for kind in ("simulate", "deployment"):
        for number, r in runs[kind]["rounds"].items():
            up = ", ".join(f"{b:,} (+{b - shared_bytes:,})" for b in r["up_wire_bytes"])
            table.append(f"| {kind} | {number} | {r['seconds']:.1f} | {r['seconds'] - central:+.1f} | "
                         f"{r['down_wire_bytes']:,} (+{r['down_wire_bytes'] - shared_bytes:,}) | {up} |")
        summary[f"{kind}_overhead_per_round_s"] = round(float(np.mean(runs[kind]["round_seconds"])) - central, 2)
        summary[f"{kind}_total_s"] = runs[kind]["total_seconds"]
    table += ["", f"central round (same local epochs, no Flower): {central:.1f} s; whole commands: simulate "
              f"{summary['simulate_total_s']} s, deployment {summary['deployment_total_s']} s for {args.rounds} rounds."]
    write_results("federation_overhead", {"config": vars(args), "summary": summary, "runs": runs}, table)
    if leaked or not exact:
        raise SystemExit("a reply carried something other than the shared parameters")


if __name__ == "__main__":
    main()
