"""What the monitor reports to: the contract between read path and agent."""

from typing import Iterable, Mapping, Optional, Protocol

from df_ovsdb_agent.classifier import RowValues


class Sink(Protocol):
    """Where the monitor reports; implemented by the agent.

    Calls come from the monitor's one thread, in order.  An exception
    raised by any of them means the agent's view may be wrong: the monitor
    logs it, counts it and starts a fresh sync.
    """

    def on_sync_started(self) -> None:
        """A (re)sync began: state is stale until :meth:`on_synced`."""

    def on_batch(self, rows: Mapping[str, Optional[RowValues]]) -> None:
        """One committed transaction while in sync.

        uuid -> the row's new values, or None for a deleted row.  Applied
        as a whole.
        """

    def on_synced(self, rows: Iterable[RowValues]) -> None:
        """The dump is in; ``rows`` is the complete table."""

    def on_system(self, external_ids: Mapping[str, str]) -> None:
        """The ``Open_vSwitch`` row's ``external_ids`` (e.g. ``system-id``).

        Called once per sync before :meth:`on_synced` and whenever the
        column changes.  Optional: the monitor skips a sink without it.
        """
