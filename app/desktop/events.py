"""Events from Python to the page: a small fan-out hub the loopback server streams as SSE.

Publishing never blocks the job runner: each subscriber has its own bounded queue, and
a page that stops reading (a closed window) just misses events instead of stalling work.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Any

Event = dict[str, Any]


class EventHub:
    def __init__(self, backlog: int = 1000) -> None:
        self._subscribers: list[queue.Queue[Event]] = []
        self._lock = threading.Lock()
        self._backlog = backlog

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            with contextlib.suppress(queue.Full):  # a reader that is gone or stuck: drop, never block
                sub.put_nowait(event)

    def subscribe(self) -> queue.Queue[Event]:
        sub: queue.Queue[Event] = queue.Queue(self._backlog)
        with self._lock:
            self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: queue.Queue[Event]) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)
