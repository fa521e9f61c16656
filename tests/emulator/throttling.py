"""Service protection limits (fact sheet §4 Graph, §6 Dataverse) and seedable random fault injection."""
import collections
import math
import random
import threading
import time


class SlidingWindow:
    """Per-key timestamps in a sliding window. ``hit`` returns 0 when allowed, else seconds to wait."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = collections.defaultdict(collections.deque)

    def hit(self, key, limit, window, now=None):
        now = time.time() if now is None else now
        with self.lock:
            q = self.events[key]
            while q and q[0] <= now - window:
                q.popleft()
            if limit and len(q) >= limit:
                return max(q[0] + window - now, 0.001)
            q.append(now)
            return 0.0

    def clear(self):
        with self.lock:
            self.events.clear()


class Concurrency:
    def __init__(self):
        self.lock = threading.Lock()
        self.active = collections.Counter()

    def enter(self, key, limit):
        with self.lock:
            if limit and self.active[key] >= limit:
                return False
            self.active[key] += 1
            return True

    def leave(self, key):
        with self.lock:
            self.active[key] -= 1


def retry_after_seconds(wait):
    """Dataverse sends whole seconds (§6)."""
    return str(max(1, math.ceil(wait)))


def retry_after_fractional(wait):
    """Graph sends fractional seconds like "2.128" (examples/graph-throttling-429.json)."""
    return f"{max(wait, 0.001):.3f}"


class FaultInjector:
    """Decides per request: None, "429", "500", "503", or "drop". Seeded so runs are reproducible."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rng = random.Random()
        self.seed = object()

    def reseed(self, seed):
        with self.lock:
            if seed != self.seed:
                self.seed = seed
                self.rng = random.Random(seed)

    def decide(self, knobs, service):
        probs = (knobs.get("faults") or {}).get(service) or {}
        if not any(probs.values()):
            return None, False
        with self.lock:
            roll = self.rng.random()
            after_write = self.rng.random() < float(knobs.get("drop_after_write", 0.5))
        acc = 0.0
        for kind in ("p429", "p500", "p503", "pdrop"):
            acc += float(probs.get(kind) or 0)
            if roll < acc:
                return kind[1:], after_write
        return None, False
