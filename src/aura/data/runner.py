"""The resumable, shardable, concurrent loop every stage runs its items through."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from aura.data.errors import ItemFailure
from aura.data.store import StageStore
from aura.errors import AuraError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Outcome:
    """What processing one item produced: rows to store per kind (``items``, ``rejected``)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunSummary:
    """Counts of one stage run (this shard only)."""

    stage: str
    total: int = 0
    skipped: int = 0
    done: int = 0
    rejected: int = 0
    failed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """A one-line human summary."""
        text = (f"{self.stage}: {self.done} done, {self.rejected} rejected, {self.failed} failed, "
                f"{self.skipped} already finished (of {self.total} in this shard)")
        return text


@dataclass
class Item(Generic[T]):
    """One unit of work: its stable id (used for sharding and resuming) and its payload."""

    id: str
    payload: T
    shard_key: str | None = None

    @property
    def key(self) -> str:
        """What sharding hashes: the source video's id, so one machine owns a video end to end."""
        return self.shard_key or self.id


def run_items(
    store: StageStore,
    items: Iterable[Item[T]] | Callable[[], Iterable[Item[T]]],
    process: Callable[[T], Outcome],
    *,
    concurrency: int = 1,
    retry_failed: bool = False,
    progress: bool = True,
) -> RunSummary:
    """Process this shard's unfinished items, storing each outcome as soon as it is ready.

    Items of other shards and items already finished (done, rejected, or failed unless
    ``retry_failed``) are skipped. An item that raises ``ItemFailure``, an ``AuraError`` or any
    other exception is recorded as a failure with its reason and the run goes on. At most
    ``2 * concurrency`` items are in flight; a crash loses only those.

    ``items`` may be a function returning a fresh iterable: it is then read twice, once to count
    the work (for the progress bar's ETA) and once lazily, so payloads are never all in memory.
    An id seen twice is processed once.
    """
    source: Callable[[], Iterable[Item[T]]] = items if callable(items) else (lambda: items)  # type: ignore[assignment]
    summary = RunSummary(store.stage)
    finished = store.finished(retry_failed=retry_failed)
    todo: set[str] = set()
    seen: set[str] = set()
    for item in source():
        if not store.shard.owns(item.key) or item.id in seen:
            continue
        seen.add(item.id)
        summary.total += 1
        if item.id in finished:
            summary.skipped += 1
        else:
            todo.add(item.id)
    bar = tqdm(total=len(todo), desc=store.stage, unit="item", disable=not progress, dynamic_ncols=True)

    def pending_items() -> Iterable[Item[T]]:
        for item in source():
            if item.id in todo:
                todo.discard(item.id)
                yield item

    def settle(item: Item[T], fut: Future[Outcome]) -> None:
        try:
            outcome = fut.result()
        except ItemFailure as exc:
            _record_failure(store, summary, item.id, exc.kind, exc.reason, exc.attempts)
        except AuraError as exc:
            _record_failure(store, summary, item.id, "input", str(exc).splitlines()[0])
        except Exception as exc:  # a bug or an unexpected library error: record it, keep going
            log.exception("%s: item %s failed unexpectedly", store.stage, item.id)
            _record_failure(store, summary, item.id, "internal", f"{type(exc).__name__}: {exc}".splitlines()[0])
        else:
            for row in outcome.items:
                store.write("items", row)
            for row in outcome.rejected:
                store.write("rejected", row)
            summary.done += bool(outcome.items)
            summary.rejected += bool(outcome.rejected) and not outcome.items
        bar.update(1)
        bar.set_postfix(failed=summary.failed, rejected=summary.rejected, refresh=False)

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix=store.stage)
    with contextlib.ExitStack() as stack:
        stack.callback(bar.close)
        if progress:
            stack.enter_context(logging_redirect_tqdm())
        try:
            inflight: dict[Future[Outcome], Item[T]] = {}
            queue = iter(pending_items())
            while True:
                while len(inflight) < 2 * max(1, concurrency):
                    nxt = next(queue, None)
                    if nxt is None:
                        break
                    inflight[pool.submit(process, nxt.payload)] = nxt
                if not inflight:
                    break
                ready, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                interrupt: BaseException | None = None
                for fut in [f for f in inflight if f in ready]:  # in submission order, every one
                    try:
                        settle(inflight.pop(fut), fut)
                    except BaseException as exc:  # an interrupt inside one item: keep the others' results
                        interrupt = interrupt or exc
                if interrupt is not None:
                    raise interrupt
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # queued items never start; running ones end unrecorded
            raise
        pool.shutdown(wait=True)
    return summary


def _record_failure(store: StageStore, summary: RunSummary, item_id: str, kind: str, reason: str,
                    attempts: int = 1) -> None:
    log.warning("%s: %s failed (%s: %s)", store.stage, item_id, kind, reason)
    store.fail(item_id, kind, reason, attempts=attempts)
    summary.failed += 1
    summary.reasons[kind] = summary.reasons.get(kind, 0) + 1
