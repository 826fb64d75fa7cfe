"""``PushSource``: a bounded, thread-safe queue of frames pushed in by a camera or browser."""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator

import numpy as np

from aura.video.errors import PushSourceError


class PushSource:
    """Frames pushed with their capture times, read back in order by ``iter_frames``.

    At most ``capacity`` frames wait at once: pushing into a full source drops the oldest
    waiting frame (a live stream must not fall behind) and counts it in ``dropped``. Times must
    not go backwards. ``close()`` ends the stream once the waiting frames are read. ``timeout``
    bounds how long a reader waits for the next frame before the stream is treated as ended.
    """

    def __init__(self, capacity: int = 64, *, timeout: float | None = None, max_side: int = 4096) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.timeout = timeout
        self.max_side = max_side
        self.dropped = 0
        self.pushed = 0
        self._queue: collections.deque[tuple[float, np.ndarray]] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._last_time: float | None = None

    def push(self, frame: np.ndarray, time: float) -> None:
        """Queue a uint8 ``(H, W, 3)`` RGB frame captured at ``time`` seconds of stream time.

        Raises ``PushSourceError`` for a malformed frame, a time that goes backwards, or a push
        after ``close()``.
        """
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise PushSourceError("pushed frame must be a uint8 array of shape (H, W, 3)")
        if min(frame.shape[:2]) < 1 or max(frame.shape[:2]) > self.max_side:
            raise PushSourceError(f"pushed frame size {frame.shape[1]}x{frame.shape[0]} is out of range")
        if not np.isfinite(time) or time < 0:
            raise PushSourceError(f"pushed frame time must be a finite number >= 0, got {time}")
        with self._cond:
            if self._closed:
                raise PushSourceError("push after the source was closed")
            if self._last_time is not None and time < self._last_time:
                raise PushSourceError(f"pushed frame time {time:.3f}s goes backwards (last {self._last_time:.3f}s)")
            self._last_time = time
            if len(self._queue) >= self.capacity:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append((float(time), frame))
            self.pushed += 1
            self._cond.notify_all()

    def close(self) -> None:
        """End the stream: readers finish after the frames already waiting."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    def frames(self) -> Iterator[tuple[float, np.ndarray]]:
        """Yield waiting frames in order, blocking for more until closed (or ``timeout``)."""
        while True:
            with self._cond:
                if not self._queue and not self._closed:
                    self._cond.wait_for(lambda: bool(self._queue) or self._closed, timeout=self.timeout)
                if not self._queue:
                    return
                item = self._queue.popleft()
            yield item
