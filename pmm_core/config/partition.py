"""Which parameter groups a federation shares: the option, checked once (the arrays that follow
from it are split in pmm_core.federated.partition).

The unit is a named parameter group (pmm_core.models.parameter_groups builds them from the
model's structure). The paper's PMM-Synth shares the backbone and the modulation MLPs and keeps
each site's dataset embedding at home; discriminators stay at the site by default (they judge
that site's images). pFLSynth-style variants keep `modulation` personal too, or share the
discriminators. Names are checked here, so a typo is a clear error before anything trains.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

GROUP_NAMES = ("embedding", "modulation", "generator", "discriminators")


class PartitionOptions(BaseModel):
    """`shared` groups travel to the server and are averaged; every other group stays personal."""

    model_config = ConfigDict(extra="forbid")

    shared: tuple[str, ...] = Field(("generator", "modulation"), description="parameter groups averaged by the server")

    @field_validator("shared")
    @classmethod
    def _known_groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in GROUP_NAMES]
        if unknown:
            raise ValueError(f"unknown parameter group {unknown[0]!r}; groups are {', '.join(GROUP_NAMES)}")
        if "embedding" in value:
            raise ValueError("'embedding' is each site's own dataset embedding and cannot be shared")
        if "generator" not in value:
            raise ValueError("the 'generator' backbone must be shared, or there is nothing to federate")
        return tuple(dict.fromkeys(value))

    @property
    def personal(self) -> tuple[str, ...]:
        return tuple(name for name in GROUP_NAMES if name not in self.shared)
