"""What the training machine offers that changes how fast a precision trains."""

from __future__ import annotations

from pathlib import Path

BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_bf16_units(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU lists bfloat16 matrix instructions (AMX or AVX512-BF16) in ``cpuinfo``.

    False where the file cannot be read (another OS), so callers fall back to float32.
    """
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return False
    return any(flag in flags for flag in BF16_FLAGS)
