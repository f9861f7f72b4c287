"""Auditing what subscribers saw against the database's truth."""

from typing import Iterable

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import InterfaceEvent


class Audit:
    """Per-interface consistency of one event stream, counted not asserted.

    ``duplicates``: ``online`` for something already online.
    ``orphans``: ``offline``/``updated`` for something not online.
    """

    def __init__(self, events: Iterable) -> None:
        self.events = 0
        self.duplicates = 0
        self.orphans = 0
        self.by_action = {a: 0 for a in Action}
        self.online: dict = {}
        for event in events:
            self.add(event)

    def add(self, event) -> None:
        """Fold one more event (sync markers are ignored)."""
        if not isinstance(event, InterfaceEvent):
            return
        self.events += 1
        self.by_action[event.action] += 1
        known = event.uuid in self.online
        if event.action is Action.ONLINE:
            self.duplicates += known
            self.online[event.uuid] = event.interface
        elif event.action is Action.OFFLINE:
            self.orphans += not known
            self.online.pop(event.uuid, None)
        else:
            self.orphans += not known
            self.online[event.uuid] = event.interface

    def misses(self, truth: dict) -> list:
        """Interfaces whose final state differs from ``truth``."""
        return mismatches(self.online, truth)


def mismatches(seen: dict, truth: dict) -> list:
    """(uuid, seen, expected) for every interface that differs."""
    return [(uuid, seen.get(uuid), truth.get(uuid))
            for uuid in set(seen) | set(truth)
            if seen.get(uuid) != truth.get(uuid)]


def agent_state(agent) -> dict:
    return {i.uuid: i for i in agent.interfaces()}
