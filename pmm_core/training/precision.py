"""The number format and memory layout a model computes in: float32, or bfloat16/float16 autocast,
contiguous (NCHW) or channels-last (NHWC) tensors.

One `Precision` value is resolved per process from the options and the device, and every
training step and every synthesis goes through it, so a model is trained and used the same way.

Why these choices (bench/precision_speed measures them side by side, and the README's benchmark
table gives the numbers):
- On CUDA, autocast is the classic mixed precision: bfloat16 where the GPU supports it (no loss
  scaling needed, Ampere and later), float16 with a GradScaler otherwise.
- On a CPU with native bfloat16 instructions (AVX-512 BF16 or AMX, as current EPYC and Xeon
  servers have), oneDNN runs bfloat16 convolutions at about twice the float32 rate; on a CPU
  without them bfloat16 is emulated and slower, so `auto` keeps float32 there.
- Channels-last lets cuDNN pick its NHWC tensor-core kernels without reordering each tensor; on
  the CPU (oneDNN, measured on AVX-512 BF16 EPYC) it was slower in both precisions, so `auto`
  uses it on CUDA only.
Losses are computed in float32 whatever the autocast (the loss code casts with `.float()`), and
parameters and optimizer moments stay float32: autocast only changes what the convolutions
compute in.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import torch

from pmm_core.config.training import PrecisionName

PRECISION_NAMES: tuple[str, ...] = get_args(PrecisionName)
_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


@functools.lru_cache(maxsize=1)
def cpu_has_native_bfloat16() -> bool:
    """True when the CPU executes bfloat16 dot products natively (AVX-512 BF16 or AMX): there
    bfloat16 autocast is a speed-up; elsewhere it is emulated and a slow-down."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:  # not Linux: no cheap, reliable test, stay with float32
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


@dataclass(frozen=True)
class Precision:
    """How one device computes: `dtype` None is plain float32; `channels_last` the NHWC layout."""

    device_type: str
    dtype: torch.dtype | None
    channels_last: bool

    @property
    def name(self) -> str:
        return {None: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}[self.dtype]

    @property
    def layout(self) -> str:
        return "channels-last" if self.channels_last else "contiguous"

    @property
    def needs_loss_scaling(self) -> bool:
        """float16 gradients underflow without a GradScaler; bfloat16 has float32's range."""
        return self.dtype == torch.float16

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model in this layout (in place, as `Module.to` is); parameters stay float32."""
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def prepare_input(self, image: torch.Tensor) -> torch.Tensor:
        """A (B, C, H, W) batch in this layout (a no-op when it already is)."""
        return image.contiguous(memory_format=torch.channels_last) if self.channels_last else image


def resolve_precision(name: str = "auto", channels_last: bool | None = None,
                      device: torch.device | str = "cpu") -> Precision:
    """The precision `name` asks for on `device`. `auto`: bfloat16 on CUDA where supported (else
    float16), bfloat16 on a CPU with native bfloat16, float32 elsewhere. `channels_last` None:
    on for CUDA autocast, off on the CPU and in float32 (bench/precision_speed)."""
    if name not in PRECISION_NAMES:
        raise ValueError(f"precision {name!r}: use one of {', '.join(PRECISION_NAMES)}")
    device_type = torch.device(device).type
    if name == "auto":
        if device_type == "cuda":
            name = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        elif device_type == "cpu" and cpu_has_native_bfloat16():
            name = "bfloat16"
        else:
            name = "float32"
    if name == "float16" and device_type != "cuda":
        name = "float32"  # CPU float16 convolutions are emulated: slower and less exact than float32
    dtype = _DTYPES.get(name)
    layout = (device_type == "cuda" and dtype is not None) if channels_last is None else channels_last
    return Precision(device_type=device_type, dtype=dtype, channels_last=layout)
