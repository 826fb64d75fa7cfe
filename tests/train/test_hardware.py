from pathlib import Path

import pytest

from aura.models.nano import recipe
from aura.models.nano.recipe import RecipeConfig, vision_bf16
from aura.train.hardware import cpu_has_bf16_units


@pytest.mark.parametrize(("flags", "expected"), [
    ("fpu sse avx2 avx512f", False),
    ("fpu avx512f avx512_bf16", True),
    ("fpu amx_tile amx_bf16 amx_int8", True),
    ("fpu xamx_bf16x", False),  # a flag is a whole word
])
def test_bf16_units_are_read_from_the_cpu_flags(tmp_path: Path, flags: str, expected: bool) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert cpu_has_bf16_units(info) is expected


def test_an_unreadable_cpuinfo_means_no_bf16_units(tmp_path: Path) -> None:
    assert cpu_has_bf16_units(tmp_path / "missing") is False


@pytest.mark.parametrize("units", [False, True])
def test_stage0_precision_auto_follows_the_hardware_and_an_explicit_choice_wins(
        monkeypatch: pytest.MonkeyPatch, units: bool) -> None:
    monkeypatch.setattr(recipe, "cpu_has_bf16_units", lambda: units)
    assert vision_bf16(RecipeConfig()) is units
    assert vision_bf16(RecipeConfig(precision="bf16")) is True
    assert vision_bf16(RecipeConfig(vision_precision="fp32", precision="bf16")) is False
    assert vision_bf16(RecipeConfig(vision_precision="bf16")) is True


def test_amx_is_told_apart_from_avx512_bf16(tmp_path: Path) -> None:
    from aura.train.hardware import cpu_has_amx

    info = tmp_path / "cpuinfo"
    info.write_text("flags\t\t: fpu avx512f avx512_bf16\n")
    assert cpu_has_amx(info) is False and cpu_has_bf16_units(info) is True
    info.write_text("flags\t\t: fpu amx_tile amx_bf16\n")
    assert cpu_has_amx(info) is True
    assert cpu_has_amx(tmp_path / "missing") is False
