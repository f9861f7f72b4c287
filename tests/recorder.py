"""A bus subscriber that records events and lets tests wait on them."""

import threading

from df_ovsdb_agent.events import InterfaceEvent


class Recorder:
    """Collects every event it receives; ``wait_for`` blocks on a predicate."""

    def __init__(self):
        self.events = []
        self._cond = threading.Condition()

    def __call__(self, event):
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, predicate, timeout=10.0):
        """Wait until ``predicate(events)`` is true; fail the test if not."""
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(self.events), timeout)
            assert ok, 'timed out; events so far:\n%s' % '\n'.join(
                str(e) for e in self.events)
            return list(self.events)

    def wait_count(self, count, timeout=10.0):
        return self.wait_for(lambda evs: len(evs) >= count, timeout)

    def wait_event(self, timeout=10.0, **match):
        """Wait for an interface event whose attributes match ``match``."""
        return self.wait_for(lambda evs: any(_matches(e, match)
                                             for e in evs), timeout)

    def wait_sync(self, which='finished', timeout=10.0):
        """Wait until the latest event is the given sync marker."""
        marker = 'sync %s' % which
        return self.wait_for(lambda evs: bool(evs) and str(evs[-1]) == marker,
                             timeout)

    def interface_events(self):
        with self._cond:
            return [e for e in self.events if isinstance(e, InterfaceEvent)]

    def clear(self):
        with self._cond:
            self.events.clear()

    def summary(self, events=None):
        """(kind, action, name) tuples, the usual thing to assert on."""
        if events is None:
            events = self.interface_events()
        return [(e.kind.value, e.action.value, e.name) for e in events
                if isinstance(e, InterfaceEvent)]


def _matches(event, match):
    if not isinstance(event, InterfaceEvent):
        return False
    for key, want in match.items():
        have = getattr(event, key, None)
        if have is None:
            have = getattr(event.interface, key)
        if hasattr(have, 'value'):
            have = have.value
        if have != want:
            return False
    return True


def replay_state(events):
    """Fold a stream of events into uuid -> Interface, checking it as we go.

    Fails on ``online`` for something already online and on ``offline`` or
    ``updated`` for something not online: the per-interface consistency
    every subscriber is promised.
    """
    online = {}
    for event in events:
        if not isinstance(event, InterfaceEvent):
            continue
        known = event.uuid in online
        if event.action.value == 'online':
            assert not known, 'duplicate online: %s' % event
            online[event.uuid] = event.interface
        elif event.action.value == 'offline':
            assert known, 'offline for something not online: %s' % event
            del online[event.uuid]
        else:
            assert known, 'updated for something not online: %s' % event
            online[event.uuid] = event.interface
    return online
