"""The one way the data engine talks to an MLLM: an OpenAI-compatible chat API.

``ChatClient.ask`` sends a versioned prompt (plus frames), parses the reply as JSON into a
pydantic schema, and retries on timeouts, 5xx/429, connection errors and malformed output. After
``max_tries`` it raises ``ItemFailure`` with the last reason, so the item is recorded as failed
and the run goes on. A semaphore caps the requests in flight across all threads.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, ValidationError

from aura.data.config import ApiConfig
from aura.data.errors import ItemFailure
from aura.data.prompts import Prompt

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def parse_json_reply(text: str | None) -> Any:
    """The JSON value in a model reply: bare, in a ```json fence, or the outermost {...} in prose.

    Raises ``ValueError`` with a short reason when there is none.
    """
    if text is None or not text.strip():
        raise ValueError("empty reply")
    body = text.strip()
    m = _FENCE.match(body)
    if m:
        body = m.group(1)
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        pass
    first, last = body.find("{"), body.rfind("}")
    if first >= 0 and last > first:
        try:
            return json.loads(body[first : last + 1])
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc.msg} at char {exc.pos})") from None
    raise ValueError(f"not JSON (reply starts {body[:40]!r})")


class ChatClient:
    """A thread-safe JSON-asking client of one OpenAI-compatible server and model."""

    def __init__(
        self,
        api: ApiConfig,
        api_key: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        client: Any = None,
    ) -> None:
        self.api = api
        self._sleep = sleep
        self._client = client or openai.OpenAI(
            base_url=api.api_base, api_key=api_key, timeout=api.timeout_s, max_retries=0
        )
        self._slots = threading.BoundedSemaphore(api.concurrency)
        self._lock = threading.Lock()
        self.requests = 0
        self.failures: dict[str, int] = {}

    def ask(
        self,
        prompt: Prompt,
        schema: type[M],
        *,
        media: list[dict[str, Any]] | None = None,
        **values: Any,
    ) -> M:
        """Ask ``prompt`` (filled with ``values``) with ``media`` parts; return the validated reply.

        Raises ``ItemFailure`` (kinds ``api_timeout``, ``api_error``, ``api_unreachable``,
        ``malformed_output``) after ``max_tries`` failed tries, or at once for a 4xx error.
        """
        system, user = prompt.render(**values)
        content: list[dict[str, Any]] = [*(media or []), {"type": "text", "text": user}]
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": content}]
        kind, reason = "api_error", "no try made"
        for attempt in range(1, self.api.max_tries + 1):
            try:
                text = self._complete(messages)
            except openai.APITimeoutError:
                kind, reason = "api_timeout", f"no reply within {self.api.timeout_s:g}s"
            except openai.APIStatusError as exc:
                kind, reason = "api_error", f"HTTP {exc.status_code}"
                if exc.status_code < 500 and exc.status_code != 429:
                    why = f"{prompt.id}: {reason} ({_short(exc.message)})"
                    raise ItemFailure(kind, why, attempts=attempt) from None
            except openai.APIConnectionError as exc:
                kind, reason = "api_unreachable", f"cannot reach {self.api.api_base} ({_short(str(exc))})"
            else:
                try:
                    return schema.model_validate(parse_json_reply(text))
                except ValueError as exc:  # includes pydantic's ValidationError
                    kind, reason = "malformed_output", _short(_validation_reason(exc))
                    messages = [*messages[:2],
                                {"role": "assistant", "content": (text or "")[:4000]},
                                {"role": "user", "content": f"That reply was invalid: {reason}. Reply with the JSON "
                                                            "object only, exactly in the requested shape."}]
                    self._count(kind)
                    continue
            self._count(kind)
            if attempt < self.api.max_tries and self.api.backoff_s > 0:
                self._sleep(self.api.backoff_s * 2 ** (attempt - 1))
        raise ItemFailure(kind, f"{prompt.id}: {reason} after {self.api.max_tries} tries", attempts=self.api.max_tries)

    def _complete(self, messages: list[dict[str, Any]]) -> str | None:
        extra: dict[str, Any] = {}
        if self.api.json_mode:
            extra["response_format"] = {"type": "json_object"}
        with self._slots:
            with self._lock:
                self.requests += 1
            resp = self._client.chat.completions.create(
                model=self.api.model,
                messages=messages,
                temperature=self.api.temperature,
                max_tokens=self.api.max_tokens,
                **extra,
            )
        if not resp.choices:
            return None
        return resp.choices[0].message.content

    def _count(self, kind: str) -> None:
        with self._lock:
            self.failures[kind] = self.failures.get(kind, 0) + 1


def _validation_reason(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "reply"
        return f"schema: {where}: {err['msg']}"
    return str(exc)


def _short(text: str, limit: int = 160) -> str:
    line = (text or "").splitlines()[0] if text else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
