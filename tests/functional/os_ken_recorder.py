"""An os-ken app of the tests' own: records the agent's typed os-ken
events, one JSON line each, in the file ``$DF_OSKEN_RECORD``.

At every ``EventSyncFinished`` it also asks the agent app for the
interfaces online (``EventInterfacesRequest``) and records the answer.
"""

import json
import os

from os_ken.base import app_manager
from os_ken.controller import handler

from df_ovsdb_agent.os_ken import events as ev


class Recorder(app_manager.OSKenApp):

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.path = os.environ['DF_OSKEN_RECORD']

    def _write(self, record):
        with open(self.path, 'a') as out:
            out.write(json.dumps(record) + '\n')

    @handler.set_ev_cls([ev.EventInterfaceOnline, ev.EventInterfaceOffline,
                         ev.EventInterfaceUpdated])
    def interface(self, event):
        self._write({'event': type(event).__name__,
                     'name': event.interface.name,
                     'kind': event.interface.kind.value,
                     'ofport': event.interface.ofport,
                     'datapath_id': event.datapath_id,
                     'changed': sorted(getattr(event, 'changed', ()))})

    @handler.set_ev_cls(ev.EventSyncStarted)
    def sync_started(self, event):
        self._write({'event': 'EventSyncStarted'})

    @handler.set_ev_cls(ev.EventSyncFinished)
    def sync_finished(self, event):
        self._write({'event': 'EventSyncFinished'})
        reply = self.send_request(ev.EventInterfacesRequest(kind='vm'))
        self._write({'event': 'reply', 'synced': reply.synced,
                     'names': sorted(i.name for i in reply.interfaces),
                     'datapath_ids': reply.datapath_ids})
