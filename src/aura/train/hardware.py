"""What the training machine offers that changes how fast a precision trains."""

from __future__ import annotations

from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    """The words of ``cpuinfo`` (its feature flags among them); empty where it cannot be read (another OS)."""
    try:
        return set(cpuinfo.read_text().split())
    except OSError:
        return set()


def cpu_has_amx(cpuinfo: Path = CPUINFO) -> bool:
    """Whether the CPU lists AMX bfloat16 tiles (False where ``cpuinfo`` cannot be read)."""
    return "amx_bf16" in cpu_flags(cpuinfo)


def cpu_has_bf16_units(cpuinfo: Path = CPUINFO) -> bool:
    """Whether the CPU lists bfloat16 matrix instructions (AMX or AVX512-BF16) in ``cpuinfo``.

    False where the file cannot be read, so callers fall back to float32.
    """
    return not cpu_flags(cpuinfo).isdisjoint(BF16_FLAGS)
