"""Background writer: ``python -m benchmarks.noise`` (arguments on stdin).

Reads ``{"remote", "ports", "batch", "pause", "mode"}`` as one JSON line,
then commits until stdin closes: ``mode`` "burst" changes the attached-mac
of ``batch`` ports per transaction (a relevant change every monitor
reports), "churn" rewrites statistics and status of every port every
``pause`` seconds, as ovs-vswitchd does.  A separate process, so the
parent's timestamps never wait for its GIL.
"""

import json
import sys
import threading
import time

from benchmarks import dataset


def main() -> None:
    args = json.loads(sys.stdin.readline())
    ports = [dataset.Port(**p) for p in args['ports']]
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()),
                     daemon=True).start()
    client = dataset.connect(args['remote'])
    generation, offset = 1, 0
    batch = args.get('batch', len(ports))
    while not stop.is_set():
        began = time.monotonic()
        if args['mode'] == 'churn':
            dataset.churn(client, ports, generation)
        else:
            chunk = ports[offset:offset + batch] or ports[:batch]
            offset = (offset + batch) % max(1, len(ports))
            client.transact(*dataset.set_mac_ops(chunk, generation))
        generation += 1
        sys.stdout.write('%d\n' % generation)
        sys.stdout.flush()
        stop.wait(max(0.0, args['pause'] - (time.monotonic() - began)))
    client.close()


if __name__ == '__main__':
    main()
