"""Safe log lines: escaped, bounded values and rate-limited repeats.

Values that came from OVSDB or a store are attacker-influenced (an
``iface-id`` is whatever a tenant's VM port was given): escaped and cut
before they are logged, they cannot forge a line, drive a terminal or fill
a disk::

    LOG.warning('bad iface-id %s on %s', logsafe.safe(iface_id), name)
"""

import logging
import threading
import time
from typing import Callable, Dict, Optional, Tuple

DEFAULT_LIMIT = 256
# A whole log message (not one value) is cut at this many characters.
LINE_LIMIT = 4096

# C0 controls, DEL and C1 controls (unicodedata category Cc), plus the two
# Unicode line and paragraph separators that some viewers break lines on.
# The backslash is escaped too, so a literal "\n" in a value stays
# distinguishable from an escaped newline.  Lone surrogates (a peer's JSON
# may carry "\udcff") cannot be encoded to UTF-8: left in, they make the
# whole log record fail, so they are escaped as well.
_SHORT_ESCAPES = {'\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\'}


def _escapes() -> Dict[int, str]:
    # Built in a function, the surrogates by a comprehension: the same
    # 2,114 entries in a loop at module level cost ~3 ms of every start.
    table = {code: '\\u%04x' % code for code in range(0xd800, 0xe000)}
    for code in [*range(0x20), *range(0x7f, 0xa0), 0x2028, 0x2029]:
        table[code] = _SHORT_ESCAPES.get(
            chr(code), '\\x%02x' % code if code < 0x100 else '\\u%04x' % code)
    return table


_VALUE_ESCAPES = _escapes()
# For whole messages: their values are already escaped by :func:`safe`
# (backslashes doubled); escaping backslashes again would double them twice.
_LINE_ESCAPES = dict(_VALUE_ESCAPES)
_VALUE_ESCAPES[ord('\\')] = '\\\\'


def safe(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """``value`` as one printable line of at most ``limit`` characters.

    Control characters become ``\\n``, ``\\x1b`` and the like; ordinary
    Unicode is kept.  A longer result is cut and ends with
    ``...[+N chars]``, N being the characters of ``value`` not shown.
    """
    text = value if isinstance(value, str) else str(value)
    # Only a prefix can be shown: never escape all of a huge value.
    head = text[:limit]
    escaped = head.translate(_VALUE_ESCAPES)
    if len(text) <= limit and len(escaped) <= limit:
        return escaped
    out = []
    used = shown = 0
    for char in head:
        piece = _VALUE_ESCAPES.get(ord(char), char)
        if used + len(piece) > limit:
            break
        out.append(piece)
        used += len(piece)
        shown += 1
    return '%s...[+%d chars]' % (''.join(out), len(text) - shown)


def one_line(text: str, limit: int = LINE_LIMIT) -> str:
    """A whole message (log line, error line) as one bounded line.

    Like :func:`safe` but for text whose values were escaped already:
    control characters and surrogates are escaped, backslashes are not.
    """
    line = text[:limit].translate(_LINE_ESCAPES)
    if len(text) > limit:
        line = '%s...[+%d chars]' % (line, len(text) - limit)
    return line


class Safe:
    """A log argument that is escaped only if the record is emitted."""

    __slots__ = ('value', 'limit')

    def __init__(self, value: object, limit: int = DEFAULT_LIMIT) -> None:
        self.value = value
        self.limit = limit

    def __str__(self) -> str:
        return safe(self.value, self.limit)

    __repr__ = __str__


class RepeatFilter(logging.Filter):
    """Rate-limit identical records of ``level`` and above.

    The first occurrence of a message (same logger, level and formatted
    text) passes; identical ones within ``interval`` seconds are dropped
    and counted; the next one after the interval passes with
    `` (repeated N times in the last Ts)`` appended, N counting the dropped
    ones.  Attach it to a logger (``LOG.logger.addFilter``) or a handler.
    """

    def __init__(self, interval: float = 60.0, level: int = logging.WARNING,
                 max_keys: int = 1000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.level = level
        self.max_keys = max_keys
        self._clock = clock
        # key -> [time the key was last let through, records dropped since]
        self._seen: Dict[Tuple[str, int, str], list] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        # One filter on several handlers sees each record once per handler:
        # decide once.
        decided = getattr(record, '_df_repeat_pass', None)
        if decided is not None:
            return decided
        verdict = self._let_through(record)
        setattr(record, '_df_repeat_pass', verdict)
        return verdict

    def _let_through(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        key = (record.name, record.levelno, message)
        now = self._clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < self.interval:
                entry[1] += 1
                return False
            dropped = entry[1] if entry is not None else 0
            since = now - entry[0] if entry is not None else 0.0
            self._seen.pop(key, None)
            self._seen[key] = [now, 0]
            self._forget_old_keys(now)
        if dropped:
            record.msg = '%s (repeated %d times in the last %ds)' % (
                message, dropped, round(since))
            record.args = None
        return True

    def _forget_old_keys(self, now: float) -> None:
        # Messages that embed changing values must not grow this forever.
        if len(self._seen) <= self.max_keys:
            return
        for key in [k for k, (last, dropped) in self._seen.items()
                    if now - last >= self.interval and not dropped]:
            del self._seen[key]
        while len(self._seen) > self.max_keys:
            # Oldest first: dicts keep insertion order, and a key let
            # through again is re-inserted.
            del self._seen[next(iter(self._seen))]


class EscapeFilter(logging.Filter):
    """Make every record's message one printable, bounded line.

    This is the one depth where log lines are made safe: values from
    OVSDB, a store or a peer reach log calls through many paths (exception
    texts, reprs, event strings), and one forgotten :func:`safe` would let
    a peer forge a line or, with a lone surrogate, make the record fail to
    encode.  Control characters and surrogates in the formatted message
    are escaped as by :func:`safe` (backslashes are left: values in it
    were escaped already) and it is cut at :data:`LINE_LIMIT`; a
    traceback (``exc_info``) is left as it is.
    Attach it to handlers (:func:`install_filters`).
    """

    def __init__(self, limit: int = LINE_LIMIT) -> None:
        super().__init__()
        self.limit = limit

    def filter(self, record: logging.LogRecord) -> bool:
        # Once per record even with this filter on several handlers:
        # escaping twice would double the backslashes.
        if getattr(record, '_df_escaped', False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format: let logging report it as usual
            return True
        record.msg = one_line(message, self.limit)
        record.args = None
        setattr(record, '_df_escaped', True)
        return True


def install_filters(logger: Optional[logging.Logger] = None,
                    interval: float = 60.0) -> RepeatFilter:
    """:class:`EscapeFilter` and :class:`RepeatFilter` on every handler
    of ``logger`` (default: root).  Call it after logging is set up (and
    again after handlers are replaced, e.g. on SIGHUP).
    """
    install_escape_filter(logger)
    return install_repeat_filter(logger, interval)


def install_escape_filter(logger: Optional[logging.Logger] = None
                          ) -> EscapeFilter:
    """:class:`EscapeFilter` on every handler of ``logger`` (default:
    root), for the console tools that set up logging themselves.
    """
    logger = logger or logging.getLogger()
    escape = EscapeFilter()
    for handler in logger.handlers:
        handler.addFilter(escape)
    return escape


def install_repeat_filter(logger: Optional[logging.Logger] = None,
                          interval: float = 60.0) -> RepeatFilter:
    """Rate-limit repeats on every handler of ``logger`` (default: root).

    On the handlers, not the logger: a logger's filters do not see records
    of its children.  Call it after logging is set up.
    """
    logger = logger or logging.getLogger()
    repeat_filter = RepeatFilter(interval)
    for handler in logger.handlers:
        handler.addFilter(repeat_filter)
    return repeat_filter
