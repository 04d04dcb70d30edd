"""The paper's learning-rate schedule: 200 epochs, constant for 50, then linearly to 0; the
decay start scales with short runs, and a federation spans rounds x local epochs."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pmm_core.config.federation import FederationOptions
from pmm_core.config.training import TrainingOptions
from pmm_core.federated.local_round import LocalRoundSpec, round_schedule
from pmm_core.config.partition import PartitionOptions
from pmm_core.training.schedule import LearningRateSchedule


def test_defaults_are_the_papers_schedule() -> None:
    options = TrainingOptions()
    assert (options.epochs, options.decay_start, options.learning_rate) == (200, 50, 2e-4)
    schedule = LearningRateSchedule.of(options)
    assert schedule.rate(0) == schedule.rate(49.99) == 2e-4
    assert schedule.rate(50) == pytest.approx(2e-4)
    assert schedule.rate(125) == pytest.approx(1e-4)
    assert schedule.rate(200) == 0.0 and schedule.rate(199.5) == pytest.approx(2e-4 * 0.5 / 150)


def test_decay_start_is_a_key_and_scales_with_short_runs() -> None:
    assert TrainingOptions(epochs=20).decay_start == 5
    assert TrainingOptions(epochs=20, decay_start_epoch=10).decay_start == 10
    constant = LearningRateSchedule.of(TrainingOptions(epochs=4, decay_start_epoch=4))
    assert constant.rate(3.9) == 2e-4
    with pytest.raises(ValidationError, match=r"decay_start_epoch \(50\) is after the last epoch \(20\)"):
        TrainingOptions(epochs=20, decay_start_epoch=50)
    options = TrainingOptions(epochs=20, decay_start_epoch=10)
    with pytest.raises(ValidationError, match="decay_start_epoch"):
        options.epochs = 5  # assignments are validated too


def test_a_federation_schedules_over_all_its_rounds(tmp_path: Path) -> None:
    options = FederationOptions(rounds=10, local_epochs=2, training=TrainingOptions(learning_rate=1e-3))
    assert options.training.epochs == 20 and options.training.decay_start == 5
    spec = LocalRoundSpec(site_dir=tmp_path, state_dir=tmp_path, options=options.training,
                          partition=PartitionOptions(), local_epochs=2)
    schedule, start = round_schedule(spec, epochs_done=12)
    assert start == 12 and schedule.rate(start) == pytest.approx(1e-3 * (1 - 7 / 15))
    personalize = LocalRoundSpec(site_dir=tmp_path, state_dir=tmp_path, options=options.training,
                                 partition=PartitionOptions(), local_epochs=4, personalize_only=True)
    schedule, start = round_schedule(personalize, epochs_done=12)
    assert (start, schedule.epochs, schedule.decay_start) == (0, 4, 1.0)


