"""What one federation does: rounds, local epochs, quorum, timeouts, the partition, and the
training options every site uses (the server owns them, so all sites train the same model).

Timeouts are sized for hospitals: a round waits up to `round_timeout_s` (6 h by default) for
replies, because one local epoch on a site's CPU can take hours; a site is declared dead by
Flower's heartbeat (about a minute without one), not by the round timeout, so a slow site is
never mistaken for a dead one. Before a round, the server waits at most `wait_timeout_s` for
`min_sites` nodes to be connected, then stops with a message instead of waiting forever; before the
first round it also waits (within the same limit) for `expected_sites`, so the federation does
not start without sites that are still connecting.

In a federation the training options' `epochs` is not chosen separately: it is rounds x local
epochs, what each site trains in all and so the length of the learning-rate schedule every site
follows (pmm_core.training.schedule).
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pmm_core.config.training import TrainingOptions
from pmm_core.config.partition import PartitionOptions


class FederationOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rounds: int = Field(100, ge=1, description="federated rounds (each site trains local_epochs per round)")
    local_epochs: int = Field(1, ge=1, description="epochs over the site's own training slices per round")
    min_sites: int = Field(2, ge=1, description="sites that must answer for a round to count")
    expected_sites: int | None = Field(
        None, ge=1, description="before the first round, wait (up to wait_timeout_s) for this many sites, then start "
                                "with whoever is there (at least min_sites); later rounds take every connected site")
    round_timeout_s: float = Field(6 * 3600.0, gt=0, description="how long a round waits for replies")
    wait_timeout_s: float = Field(600.0, gt=0, description="how long to wait for min_sites to connect")
    partition: PartitionOptions = Field(default_factory=PartitionOptions)
    training: TrainingOptions = Field(default_factory=TrainingOptions)

    @model_validator(mode="after")
    def _schedule_spans_the_federation(self) -> "FederationOptions":
        total = self.rounds * self.local_epochs
        if self.training.epochs != total:
            self.training = TrainingOptions.model_validate(self.training.model_dump() | {"epochs": total})
        return self
