"""The devices training can run on, with names and memory, for the CLI and the training page."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class DeviceInfo:
    id: str                    # "cuda:0", "mps", "cpu"
    kind: str                  # "cuda", "mps", "cpu"
    name: str
    memory_bytes: int | None

    def label(self) -> str:
        mem = f", {self.memory_bytes / 2**30:.0f} GiB" if self.memory_bytes else ""
        return f"{self.name} ({self.id}{mem})"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "CPU"


def available_devices() -> list[DeviceInfo]:
    """CUDA GPUs first, then Apple MPS, then the CPU (always present)."""
    import torch

    out = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out.append(DeviceInfo(f"cuda:{i}", "cuda", p.name, int(p.total_memory)))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        out.append(DeviceInfo("mps", "mps", "Apple GPU (MPS)", None))
    mem = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    out.append(DeviceInfo("cpu", "cpu", f"{cpu_name()}, {os.cpu_count()} threads", mem))
    return out
