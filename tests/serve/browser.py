"""Headless Debian Chromium driven by Selenium, with a fake camera fed from a y4m clip (tests only)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def write_y4m(path: Path, frames: int = 20, size: tuple[int, int] = (320, 240), fps: int = 10,
              rgb: tuple[int, int, int] = (200, 40, 40)) -> Path:
    """A 4:2:0 YUV4MPEG2 clip: a solid colour with a white bar moving across (what the fake camera plays)."""
    w, h = size
    r, g, b = rgb
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.169 * r - 0.331 * g + 0.5 * b + 128
    v = 0.5 * r - 0.419 * g - 0.081 * b + 128
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            luma = np.full((h, w), round(y), np.uint8)
            x = (i * w // frames) % w
            luma[:, x : x + w // 16] = 235
            f.write(b"FRAME\n")
            f.write(luma.tobytes())
            f.write(np.full((h // 2, w // 2), round(u), np.uint8).tobytes())
            f.write(np.full((h // 2, w // 2), round(v), np.uint8).tobytes())
    return path


def available() -> bool:
    """True when Debian's chromium and chromedriver are installed (``.ci/run`` installs them)."""
    return shutil.which(CHROMIUM) is not None and shutil.which(CHROMEDRIVER) is not None


def launch(tmp: Path, y4m: Path, wav: Path | None = None):
    """A headless Chromium WebDriver whose camera plays ``y4m`` and microphone ``wav`` (offline)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={y4m}", f"--user-data-dir={tmp / 'chromium-profile'}",
                 "--window-size=1280,900"):
        opts.add_argument(flag)
    if wav is not None:
        opts.add_argument(f"--use-file-for-fake-audio-capture={wav}")
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp / "chromedriver.log"))
    return webdriver.Chrome(options=opts, service=service)
