"""A size cap on what python-ovs reads for one JSON-RPC message.

python-ovs's ``jsonrpc.Connection.recv`` keeps reading until a message is
complete, with no limit: a peer that never ends its reply pins the calling
thread and grows memory without bound.  Wrapping the stream's ``recv``
turns "more than N bytes for one message" into a connection error, which
python-ovs handles like any other (disconnect, back off, reconnect).
"""

import errno
from typing import Callable


class MessageCap:
    """Counts bytes read since the last complete message, per stream."""

    def __init__(self, limit: int, on_exceeded: Callable[[int], None]):
        self.limit = limit
        self.on_exceeded = on_exceeded
        self.pending = 0

    def message_done(self) -> None:
        """Call whenever a complete message has been received."""
        self.pending = 0

    def wrap(self, stream) -> None:
        """Cap ``stream`` (an ``ovs.stream.Stream``) from now on."""
        read = stream.recv
        self.pending = 0

        def recv(n):
            error, data = read(n)
            if not error and data:
                self.pending += len(data)
                if self.pending > self.limit:
                    self.on_exceeded(self.limit)
                    return errno.EMSGSIZE, ''
            return error, data

        stream.recv = recv
