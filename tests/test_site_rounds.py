"""A site's rounds over a federation's life, through the real local round on the test caches:
the round's place on the schedule comes from the server, and a round counts only once the
server aggregated it (a resumed server's repeated round is taken back, not trained twice)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import tiny_training_options
from pmm_core.config.federation import FederationOptions
from pmm_core.federated.initial_model import build_site_model
from pmm_core.federated.local_round import LocalRoundSpec, run_local_round
from pmm_core.federated.partition import PartitionOptions, shared_arrays

ROUNDS = 2
OPTIONS = FederationOptions(rounds=ROUNDS, local_epochs=1, training=tiny_training_options(ROUNDS)).training
PARTITION = PartitionOptions()


def _round(site_dir: Path, state_dir: Path, uid: str, server_round: int, shared: dict) -> dict:
    spec = LocalRoundSpec(site_dir=site_dir, state_dir=state_dir, options=OPTIONS, partition=PARTITION, local_epochs=1,
                          round_label=f"fed:{server_round}", round_key=f"{uid}:{server_round}",
                          schedule_epoch=server_round - 1, progress=False, val_max_cases=1)
    return run_local_round(spec, shared, echo=lambda _: None).shared


def _initial() -> dict:
    return shared_arrays(build_site_model(OPTIONS), PARTITION)


def _weights(arrays: dict) -> list[str]:
    return [name for name in arrays if not name.endswith(("running_mean", "running_var", "num_batches_tracked"))]


def test_a_second_federation_on_the_same_state_trains_from_its_own_start(prepared_sites: Path, tmp_path: Path) -> None:
    """A site's state folder outlives a federation: a second federation's first round trains at
    the full rate instead of at the rate 0 where the first one ended (which sent the global
    weights back unchanged)."""
    site, state, initial = prepared_sites / "ISLES", tmp_path / "state", _initial()
    first = _round(site, state, "first", 2, _round(site, state, "first", 1, initial))
    assert any((first[name] != initial[name]).any() for name in _weights(initial))
    again = _round(site, state, "second", 1, initial)
    assert max(float(abs(again[name] - initial[name]).max()) for name in _weights(initial)) > 1e-5


def test_a_round_the_server_never_aggregated_is_trained_once(prepared_sites: Path, tmp_path: Path) -> None:
    """The server dies in round 2 after the site trained it, resumes and asks for round 2 again:
    the site goes back to its state from before round 2, and the federation ends with exactly
    the weights of an uninterrupted one."""
    site, initial = prepared_sites / "ISLES", _initial()
    uninterrupted = _round(site, tmp_path / "a", "fed-a", 2, _round(site, tmp_path / "a", "fed-a", 1, initial))
    after_one = _round(site, tmp_path / "b", "fed-b", 1, initial)
    _round(site, tmp_path / "b", "fed-b", 2, after_one)          # trained, never aggregated: the server died
    resumed = _round(site, tmp_path / "b", "fed-b", 2, after_one)  # the resumed server asks for round 2 again
    assert all(np.array_equal(resumed[name], uninterrupted[name]) for name in uninterrupted)
