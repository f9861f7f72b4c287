"""Child process hosting one contender: ``python -m benchmarks.worker NAME``.

Protocol, one JSON object per line.  Parent -> child on stdin:
``{"cmd": "start", "remote": R, "expect": N}`` (N: notifications that make
the initial sync for contenders without a sync marker), ``{"cmd": "expect",
"count": K}``, ``{"cmd": "resync", "count": K|null}``, ``{"cmd": "stop"}``.
Child -> parent on stdout: ``ready`` (with the JSON parser in use), ``ack``,
``synced``, ``mark``, ``reached``, ``resynced``; times are CLOCK_MONOTONIC
nanoseconds, comparable with the parent's.
"""

import importlib
import json
import sys
import threading
import warnings

from benchmarks import contenders


# Imported before the clock starts: import time is not sync time.
PRELOAD = {
    # (The agent does not import python-ovs.)
    'agent': ('df_ovsdb_agent.agent', 'df_ovsdb_agent.ovsdb.monitor'),
    'raw_idl': ('ovs.db.idl', 'ovs.poller'),
    'ovsdbapp_naive': ('ovsdbapp.backend.ovs_idl.connection',
                       'ovsdbapp.backend.ovs_idl.event'),
    'polling': ('df_ovsdb_agent.testing.rpc',),
}


def _force_parser(name: str) -> str:
    import ovs.json
    if name in contenders.PURE_PYTHON_JSON:
        ovs.json.PARSER = ovs.json.PARSER_PY
    return ovs.json.PARSER


def _commands(rep: contenders.Reporter, started: threading.Event,
              start_msg: dict, stop: threading.Event) -> None:
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg['cmd']
        if cmd == 'start':
            start_msg.update(msg)
            started.set()
        elif cmd == 'expect':
            rep.expect(msg['count'])
        elif cmd == 'resync':
            rep.expect_resync(msg.get('count'))
        elif cmd == 'stop':
            break
        rep.emit(ev='ack', cmd=cmd)
    stop.set()
    started.set()


def main() -> None:
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    name = sys.argv[1]
    cls = contenders.CONTENDERS[name]
    parser = _force_parser(name)
    for module in PRELOAD.get(name.replace('_pyjson', ''), ()):
        importlib.import_module(module)
    rep = contenders.Reporter(sys.stdout)
    started, stop = threading.Event(), threading.Event()
    start_msg: dict = {}
    threading.Thread(target=_commands, daemon=True,
                     args=(rep, started, start_msg, stop)).start()
    rep.emit(ev='ready', parser=parser)
    started.wait()
    if stop.is_set():
        return
    if not cls.has_sync_marker:
        rep.sync_target = start_msg['expect']
    rep.emit(ev='started', t=contenders.now_ns())
    cls(start_msg['remote'], rep, stop).run()
    rep.emit(ev='exited')


if __name__ == '__main__':
    main()
