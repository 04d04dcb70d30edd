"""Federated training over real Flower processes on 127.0.0.1: a SuperLink (`pmm serve`) and one
SuperNode per site (`pmm client`), TLS from a CA made here, the messages the server received,
personal state across rounds and federations, resume, a site killed mid-round, a quorum that
never forms, and `pmm simulate`'s input check."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch

from conftest import PMM, mlflow_store, run_pmm, tiny_training_config
from pmm_core.config.training import load_training_options
from pmm_core.federated.local_round import build_site_model
from pmm_core.federated.partition import PartitionOptions, shared_arrays
from pmm.runtime.processes import free_port

CASE_MARKERS = ("case0", "BraTS2021_", "sub-strokecase")  # case ids of the test sites


@pytest.fixture
def federation(prepared_sites: Path, tmp_path: Path) -> dict:
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_training_config(1))
    env = {"PMM_SITES_DIR": str(prepared_sites.parent / "sites"), "PMM_CACHE_DIR": str(prepared_sites),
           "MLFLOW_TRACKING_URI": mlflow_store(tmp_path / "mlflow.db")}
    return {"config": config, "env": {**os.environ, **env}, "tmp": tmp_path, "port": free_port(),
            "store": env["MLFLOW_TRACKING_URI"]}


def _serve(fed: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([PMM, "serve", "--address", f"127.0.0.1:{fed['port']}", "--config", str(fed["config"]),
                             "--dir", str(fed["tmp"] / "fed"), "--experiment", "fedtest", *args],
                            cwd=fed["tmp"], env=fed["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _client(fed: dict, site: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([PMM, "client", "--site", site, "--server", f"127.0.0.1:{fed['port']}",
                             "--state-dir", str(fed["tmp"] / "state"), *args],
                            cwd=fed["tmp"], env=fed["env"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_for(condition, message: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (OSError, RuntimeError, EOFError, KeyError):  # a file not there yet, or being replaced
            pass
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def _finish(server: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    output, _ = server.communicate(timeout=timeout)
    return server.returncode, output


def _audit(fed: dict, stage: str = "train") -> list[dict]:
    entries = [json.loads(line) for line in (fed["tmp"] / "fed" / "messages.jsonl").read_text().splitlines()]
    return [entry for entry in entries if entry["stage"] == stage]


def _personal(fed: dict, site: str) -> dict[str, torch.Tensor]:
    return torch.load(fed["tmp"] / "state" / site / "state.pt", weights_only=True)["personal"]


def _expected_shared_names(fed: dict) -> set[str]:
    return set(shared_arrays(build_site_model(load_training_options(fed["config"])), PartitionOptions()))


def test_tls_federation_sends_only_shared_parameters_and_resumes(federation: dict) -> None:
    """TLS with a CA made here, SuperNode authentication (an unregistered node is turned away),
    two rounds across a server killed (-9) mid-round and resumed, and what the server received."""
    fed = federation
    certs = fed["tmp"] / "certs"
    assert run_pmm("certs", "--out", str(certs), "--node", "BraTS", "--node", "ISLES", cwd=fed["tmp"]).returncode == 0
    tls = ("--certificates", str(certs), "--require-node-auth")
    server = _serve(fed, "--rounds", "2", "--min-sites", "2", *tls)
    clients = [_client(fed, site.lower(), "--root-certificates", str(certs / "ca.pem"), "--key", str(certs / "nodes" / f"{site}.key"))
               for site in ("BraTS", "ISLES")]
    clients.append(_client(fed, "gen", "--root-certificates", str(certs / "ca.pem")))  # no key: refused
    try:
        # killed while the sites train round 2; the running SuperNodes reconnect by themselves to the
        # resumed server, which asks for round 2 again: each site starts it from the state it kept
        # from before it (state.before.pt), not from its unaggregated round
        for site in ("BraTS", "ISLES"):
            log = fed["tmp"] / "state" / site / "client.log"
            _wait_for(lambda: "round fed:2: training" in log.read_text(), f"{site} never started round 2", 300)
        os.killpg(server.pid, signal.SIGKILL)
        output, _ = server.communicate(timeout=30)
        assert "(TLS)" in output and "round 1/2 done" in output and "round 2/2" not in output
        _wait_for(lambda: any(h["round"] == "fed:2" for h in torch.load(
            fed["tmp"] / "state" / "BraTS" / "state.pt", weights_only=True)["history"]), "BraTS never saved round 2")
        after_one = {site: torch.load(fed["tmp"] / "state" / site / "state.before.pt", weights_only=True)["personal"]
                     for site in ("BraTS", "ISLES")}
        assert not torch.equal(after_one["BraTS"]["embedding.mlp.0.weight"], after_one["ISLES"]["embedding.mlp.0.weight"])
        server = _serve(fed, "--rounds", "2", "--min-sites", "2", "--resume", "--register", "fedmodel", *tls)
        code, output = _finish(server)
        assert code == 0, output[-3000:]
        assert "round 2/2 done" in output and "round 1/" not in output
        assert "registered as models:/fedmodel/1" in output
    finally:
        _stop(server, *clients)

    audit = _audit(fed)
    assert len(audit) == 4 and sorted(entry["round"] for entry in audit) == [1, 1, 2, 2]
    expected = _expected_shared_names(fed)
    size = sum(int(torch.tensor(shape).prod()) for shape in audit[0]["parameters"].values())
    for entry in audit:
        assert set(entry["parameters"]) == expected  # the declared layout: exactly the shared parameters
        assert not any(n.startswith(("embedding.", "discriminators.")) for n in entry["parameters"])
        assert all(len(s) != 4 or s[-1] <= 7 for s in entry["parameters"].values())  # kernels, no images
        # one packed float32 vector of exactly that many values travelled, nothing else
        assert list(entry["arrays"]) == ["shared"]
        packed = entry["arrays"]["shared"]
        assert packed["shape"] == [size] and packed["dtype"] == "float32"
        assert 4 * size <= packed["bytes"] <= 4 * size + 256  # the values plus numpy's serialization header
        assert set(entry["metrics"].values()) <= {"float", "int"}
        text = json.dumps(entry["metrics"]) + json.dumps(entry["configs"])
        assert not any(marker in text for marker in CASE_MARKERS)
    for site in ("BraTS", "ISLES"):
        state = torch.load(fed["tmp"] / "state" / site / "state.pt", weights_only=True)
        assert [h["round"] for h in state["history"]] == ["fed:1", "fed:2"]
        assert any(not torch.equal(v, after_one[site][k]) for k, v in state["personal"].items())
    mlflow.set_tracking_uri(fed["store"])
    runs = mlflow.search_runs(experiment_names=["fedtest"])
    parent = runs[runs["tags.pmm.mode"] == "federated"]
    children = runs[runs["tags.pmm.mode"] == "federated-site"]
    assert len(parent) == 1 and len(children) == 2  # the resumed server logged into the same runs
    assert set(children["tags.mlflow.parentRunId"]) == set(parent["run_id"])
    assert "metrics.val/BraTS/T1_to_T1C/psnr" in children.columns and "metrics.val/mean_psnr" in parent.columns
    assert "metrics.final/val/BraTS/T1_to_T1C/psnr" in children.columns
    final = _audit(fed, "final")  # after the last round each site built its model from the final global
    assert sorted(entry["round"] for entry in final) == [2, 2]
    assert all(entry["arrays"] == {} and entry["parameters"] == {} for entry in final)
    site_log = (fed["tmp"] / "state" / "BraTS" / "client.log").read_text()
    assert site_log.count(": training 1 local epoch") == 3  # round 1, round 2 for the killed server, round 2 again
    assert "round fed:2 was trained for a server that never aggregated it; training it again" in site_log
    # the resumed round 2 starts where the federation's schedule is, whatever the site counted before
    assert "round fed:2: training 1 local epoch(s) from epoch 1 of the federation's 2-epoch schedule" in site_log
    assert "must be registered" in (fed["tmp"] / "state" / "GEN" / "supernode.log").read_text()
    assert not (fed["tmp"] / "state" / "GEN" / "state.pt").exists()
    # the finished federation's shared network, registered: no site's personal part or record in it
    with zipfile.ZipFile(fed["tmp"] / "fed" / "fedmodel.pmm") as archive:
        manifest = json.loads(archive.read("pmm-package.json"))
    assert manifest["kind"] == "federated-global" and manifest["sites"] == [] and manifest["training"]["federation_round"] == 2
    refused = run_pmm("synthesize", "--checkpoint", str(fed["tmp"] / "fed" / "fedmodel.pmm"), "--site", "gen",
                      "--input", f"T1={Path(fed['env']['PMM_CACHE_DIR']).parent / 'data' / 'GEN' / 'case00' / 'case00_T1.nii.gz'}",
                      "--target", "T2", "--out", str(fed["tmp"] / "x.nii.gz"), env=fed["env"])
    assert refused.returncode == 2 and "personalizes it first" in refused.stderr, refused.stderr[-2000:]
    # the site that never joined fits its own parts against it, fetched from the registry
    joined = run_pmm("client", "--site", "gen", "--personalize-only", "--global-model", "models:/fedmodel/latest",
                     "--epochs", "1", "--state-dir", str(fed["tmp"] / "late"),
                     env={**fed["env"], "PMM_MODEL_CACHE": str(fed["tmp"] / "models")})
    assert joined.returncode == 0, joined.stderr[-2000:]
    assert torch.load(fed["tmp"] / "late" / "GEN" / "state.pt", weights_only=True)["history"][-1]["personalize_only"]


def _poisoned_cache(prepared_sites: Path, folder: Path, site: str) -> Path:
    """A copy of the test caches where every image of `site` is NaN: its training diverges."""
    shutil.copytree(prepared_sites, folder, symlinks=True)
    for image in (folder / site / "cases").glob("*/image.npy"):
        values = np.load(image)
        np.save(image, np.full_like(values, np.nan))
    return folder


def test_a_round_outlives_a_dead_site_and_a_diverged_one(federation: dict, prepared_sites: Path) -> None:
    """One round, three sites, quorum one: GEN dies mid-round, ISLES (NaN images) sends NaN
    weights. Both are that site's failure, said in the server log and in MLflow; BraTS alone makes
    the round, and the global model written is finite."""
    fed = federation
    poisoned = {**fed["env"], "PMM_CACHE_DIR": str(_poisoned_cache(prepared_sites, fed["tmp"] / "poisoned", "ISLES"))}
    server = _serve(fed, "--rounds", "1", "--min-sites", "1", "--expected-sites", "3")
    clients = {site: _client(fed, site) for site in ("brats", "gen")}
    clients["isles"] = subprocess.Popen([PMM, "client", "--site", "isles", "--server", f"127.0.0.1:{fed['port']}",
                                         "--state-dir", str(fed["tmp"] / "state")], cwd=fed["tmp"], env=poisoned,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        log = fed["tmp"] / "state" / "GEN" / "client.log"
        deadline = time.monotonic() + 120
        while not (log.is_file() and "training" in log.read_text()):
            assert time.monotonic() < deadline, "GEN never started its round"
            time.sleep(0.1)
        _stop(clients["gen"])  # the SuperNode and its ClientApp die mid-round
        code, output = _finish(server, timeout=400)
        assert code == 0, output[-3000:]
        done = output.split("round 1/1 done: ")[1].split("\n")[0]
        assert "BraTS" in done and "GEN" not in done and "ISLES" not in done
        assert "reply rejected: " in output and "shared values are not finite (NaN or inf): the site diverged" in output
    finally:
        _stop(server, *clients.values())
    shared = torch.load(fed["tmp"] / "fed" / "global.pt", weights_only=True)["shared"]
    assert all(torch.isfinite(value).all() for value in shared.values())
    mlflow.set_tracking_uri(fed["store"])
    runs = mlflow.search_runs(experiment_names=["fedtest"], filter_string="tags.`pmm.mode` = 'federated'")
    assert "the site diverged" in runs["tags.pmm.failures"].iloc[0]


def test_a_killed_client_takes_its_supernode_with_it(federation: dict) -> None:
    """SIGKILL gives `pmm client` no chance to clean up; its guard still stops the SuperNode."""
    from conftest import flower_processes

    before = set(flower_processes())  # this session's, e.g. of other tests still stopping
    client = _client(federation, "brats")  # no server: the SuperNode keeps retrying
    deadline = time.monotonic() + 60
    while not [c for p, c in flower_processes().items() if p not in before and "flower-supernode" in c]:
        assert time.monotonic() < deadline, "the SuperNode never started"
        time.sleep(0.2)
    os.kill(client.pid, signal.SIGKILL)
    client.wait(10)
    deadline = time.monotonic() + 20
    while left := [c for p, c in flower_processes().items() if p not in before]:
        assert time.monotonic() < deadline, f"still running after pmm client was killed: {left}"
        time.sleep(0.2)


def test_too_few_sites_stop_the_federation_within_the_wait_limit(federation: dict) -> None:
    started = time.monotonic()
    server = _serve(federation, "--rounds", "2", "--min-sites", "2", "--wait-timeout", "5")
    client = _client(federation, "brats")
    try:
        code, output = _finish(server, timeout=120)
    finally:
        _stop(server, client)
    assert code == 1
    # the one site may not have started within the 5 s on a loaded machine: 0 or 1 connected, never 2
    assert re.search(r"only [01] of the required 2 sites connected within 5 s; stopping the federation", output), output
    assert time.monotonic() - started < 90


def test_insecure_is_refused_off_loopback(federation: dict) -> None:
    result = run_pmm("serve", "--address", "0.0.0.0:9", "--dir", str(federation["tmp"] / "fed"), env=federation["env"])
    assert result.returncode == 2 and "0.0.0.0 is not a loopback address" in result.stderr


def test_simulate_refuses_an_unknown_site_in_one_line(federation: dict) -> None:
    """A federation of real processes under `pmm simulate`'s code runs in the experiment test
    (tables' federated variant, test_experiment_end_to_end); here, the command's own input check."""
    result = run_pmm("simulate", "--sites", "brats,nosuch", "--rounds", "1", "--config", str(federation["config"]),
                     "--dir", str(federation["tmp"] / "fed"), cwd=federation["tmp"], env=federation["env"])
    assert result.returncode == 2 and "nosuch" in result.stderr and "Traceback" not in result.stderr
    assert not (federation["tmp"] / "fed").exists()


def test_a_new_site_personalizes_against_the_frozen_global_model(federation: dict, tmp_path: Path) -> None:
    """No server needed: the global state of a finished federation is the input."""
    from pmm_core.config.federation import FederationOptions
    from pmm_core.federated.global_state import GlobalState, save_global_state

    options = FederationOptions.model_validate({"training": load_training_options(federation["config"]).model_dump()})
    model = build_site_model(options.training)
    save_global_state(GlobalState(round=3, shared=shared_arrays(model, options.partition),
                                  config=options.model_dump(mode="json")), tmp_path / "fed")
    result = run_pmm("client", "--site", "gen", "--personalize-only", "--global-model", str(tmp_path / "fed" / "global.pt"),
                     "--epochs", "1", "--state-dir", str(tmp_path / "state"), env=federation["env"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "val/GEN/T1_T2_to_FLAIR/psnr" in result.stdout or "val/mean_psnr" in result.stdout
    state = torch.load(tmp_path / "state" / "GEN" / "state.pt", weights_only=True)
    assert state["history"][-1]["personalize_only"] and set(state["personal"]) >= {"embedding.mlp.0.weight"}
    missing = run_pmm("client", "--site", "gen", "--personalize-only", env=federation["env"])
    assert missing.returncode == 2 and "--global-model" in missing.stderr


def test_resume_with_another_model_is_refused_in_one_line(federation: dict) -> None:
    from pmm_core.config.federation import FederationOptions
    from pmm_core.federated.global_state import GlobalState, save_global_state

    other = load_training_options(federation["config"])
    other.model = other.model.model_copy(update={"base_channels": other.model.base_channels * 2})
    saved = FederationOptions(rounds=2, training=other)
    (federation["tmp"] / "fed").mkdir()
    save_global_state(GlobalState(round=1, shared=shared_arrays(build_site_model(other), saved.partition),
                                  config=saved.model_dump(mode="json")), federation["tmp"] / "fed")
    result = subprocess.run([PMM, "serve", "--address", f"127.0.0.1:{federation['port']}", "--config",
                             str(federation["config"]), "--dir", str(federation["tmp"] / "fed"), "--rounds", "2",
                             "--resume"], env=federation["env"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "training.model.base_channels was 16 when the federation started and is 8 now" in result.stderr
