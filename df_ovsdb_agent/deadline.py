"""One timeout shared by several steps, each given what is left of it."""

import time
from typing import Callable, Optional


def remaining(timeout: Optional[float]) -> Callable[[], Optional[float]]:
    """A function giving the seconds left of ``timeout`` from now, never
    below 0 (None, no limit, stays None).
    """
    if timeout is None:
        return lambda: None
    end = time.monotonic() + timeout
    return lambda: max(0.0, end - time.monotonic())
