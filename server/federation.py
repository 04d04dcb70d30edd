"""The ServerApp's work: start or resume the global model, run the rounds with PmmFedAvg, save
the global state after every round and log the federation to MLflow (a parent run with the
config and per-round aggregates, one nested child run per site under the centralized names)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord
from flwr.serverapp import Grid

from pmm_core.federated.global_state import GlobalState, load_global_state, save_global_state
from pmm_core.federated.initial_model import build_site_model
from pmm_core.federated.packing import PACKED_KEY, Layout, pack, unpack
from pmm_core.federated.partition import shared_arrays
from pmm.server.settings import STATUS_FILE, ServerSettings, ServerStatus, write_model
from pmm.server.strategy import FederationStopped, PmmFedAvg, SiteReply
from pmm.tracking import RunTracker
from pmm.tracking.mlflow_tracking import flatten


AUDIT_FILE = "messages.jsonl"


def to_record(arrays: dict[str, np.ndarray], layout: Layout) -> ArrayRecord:
    """The global shared parameters as Flower sends them: one packed vector (see packing.py)."""
    return ArrayRecord({PACKED_KEY: Array(pack(arrays, layout))})


def initial_state(settings: ServerSettings, folder: Path) -> GlobalState:
    options = settings.federation
    if settings.resume and (folder / "global.pt").is_file():
        state = load_global_state(folder)
        if state.config != options.model_dump(mode="json"):
            print("note: resuming with the settings given now; they differ from the saved ones", flush=True)
        return state
    model = build_site_model(options.training)
    return GlobalState(round=0, shared=shared_arrays(model, options.partition), config=options.model_dump(mode="json"))


class FederationLog:
    """MLflow parent run plus lazily created child runs, one per site; ids live in the global state."""

    def __init__(self, settings: ServerSettings, state: GlobalState):
        options = settings.federation
        tags = {"pmm.mode": "federated", "pmm.pfm": str(options.training.model.pfm).lower(),
                "pmm.mcbs": str(options.training.mcbs).lower(), "pmm.federation": settings.name}
        resumed = state.mlflow_run_id is not None
        self.parent = RunTracker(settings.experiment, run_name=f"federation-{settings.name}", tags=tags,
                                 tracking_uri=settings.tracking_uri, run_id=state.mlflow_run_id)
        if not resumed or self.parent.run_id != state.mlflow_run_id:
            self.parent.log_params(flatten(options.model_dump(mode="json")))
        self.settings, self.state = settings, state
        state.mlflow_run_id = self.parent.run_id
        self.children: dict[str, RunTracker] = {}
        self.failures: list[str] = []

    def child(self, site: str) -> RunTracker:
        if site not in self.children:
            tracker = RunTracker(self.settings.experiment, run_name=f"{self.settings.name}/{site}",
                                 tags={"pmm.mode": "federated-site", "pmm.site": site, "pmm.sites": site},
                                 tracking_uri=self.settings.tracking_uri, run_id=self.state.site_runs.get(site),
                                 parent_run_id=self.parent.run_id)
            self.children[site] = tracker
            self.state.site_runs[site] = tracker.run_id
        return self.children[site]

    def round(self, number: int, sites: list[SiteReply], aggregate: dict[str, float]) -> None:
        self.parent.log_metrics(aggregate, number)
        for reply in sites:
            self.child(reply.site).log_metrics(reply.metrics | {"train/num_examples": float(reply.num_examples)}, number)

    def final(self, number: int, sites: list[SiteReply]) -> None:
        """The delivered site models' val scores, as `final/val/...` in each site run."""
        for reply in sites:
            self.child(reply.site).log_metrics({f"final/{k}": v for k, v in reply.metrics.items()}, number)
        print(f"final models delivered to {', '.join(s.site for s in sites)}", flush=True)

    def failure(self, text: str) -> None:
        """A site's failed or rejected reply: in the server log now, and in the federation's run."""
        print(f"note: {text}", flush=True)
        self.failures.append(text)
        self.parent.set_tags({"pmm.failures": "\n".join(self.failures)[-4000:]})

    def finish(self, ok: bool, message: str = "", status: str | None = None) -> None:
        status = status or ("FINISHED" if ok else "FAILED")
        if message:
            self.parent.set_tags({"pmm.status_message": message[:4000]})
        for tracker in self.children.values():
            tracker.finish(status)
        self.parent.finish(status)


def run_federation(grid: Grid, folder: Path, settings: ServerSettings) -> ServerStatus:
    options = settings.federation
    state = initial_state(settings, folder)
    if state.round >= options.rounds:
        status = ServerStatus(ok=True, rounds_done=state.round, message=f"all {options.rounds} rounds were already done",
                              mlflow_run_id=state.mlflow_run_id)
        write_model(status, folder / STATUS_FILE)
        return status
    log = FederationLog(settings, state)

    def on_round(number: int, arrays: ArrayRecord, sites: list[SiteReply], aggregate: dict[str, float]) -> None:
        state.round, state.shared = number, unpack(arrays[PACKED_KEY].numpy(), layout)
        log.round(number, sites, aggregate)
        save_global_state(state, folder)
        names = ", ".join(f"{s.site} ({s.num_examples} slices)" for s in sites)
        psnr = f"{aggregate['val/mean_psnr']:.2f} dB" if "val/mean_psnr" in aggregate else "n/a (not every site has val tasks)"
        print(f"round {number}/{options.rounds} done: {names}; val mean PSNR {psnr}; global state -> {folder / 'global.pt'}",
              flush=True)

    def audit(number: int, entry: dict) -> None:  # every reply, as received: what left each site
        with (folder / AUDIT_FILE).open("a") as handle:
            handle.write(json.dumps({"round": number, "time": round(time.time(), 3), **entry}) + "\n")

    layout = Layout.of(state.shared)
    strategy = PmmFedAvg(options.min_sites, options.expected_sites, options.wait_timeout_s, layout, state.round,
                         options.rounds, on_round, audit)
    strategy.on_final = log.final
    strategy.on_failure = log.failure
    train_config = ConfigRecord({"federation": options.model_dump_json(), "federation-id": settings.name,
                                 "federation-uid": state.uid, "layout": layout.to_json()})
    ok, message = True, ""
    try:
        strategy.start(grid, to_record(state.shared, layout), num_rounds=options.rounds - state.round,
                       timeout=options.round_timeout_s, train_config=train_config,
                       evaluate_config=ConfigRecord(dict(train_config)))
        message = f"federation finished: {state.round} rounds"
    except FederationStopped as exc:
        ok, message = False, str(exc)
    except BaseException as exc:  # an error or a termination: the runs end FAILED / KILLED, never RUNNING
        log.finish(False, f"{type(exc).__name__}: {exc}", "KILLED" if isinstance(exc, (KeyboardInterrupt, SystemExit))
                   else "FAILED")
        raise
    if ok and settings.registered_model:
        from pmm.inference.publish import publish_package

        try:
            publish_package(log.parent, folder / "global.pt", folder / f"{settings.registered_model}.pmm", settings.registered_model,
                            lambda line: print(line, flush=True))
        except Exception as exc:  # the rounds are done and saved; only the package is missing
            ok, message = False, f"{message}, but its package was not registered ({type(exc).__name__}: {exc})"
    log.finish(ok, message)
    status = ServerStatus(ok=ok, rounds_done=state.round, message=message, mlflow_run_id=state.mlflow_run_id)
    write_model(status, folder / STATUS_FILE)
    print(message, flush=True)
    return status
