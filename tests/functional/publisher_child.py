"""An agent and one publisher in a process of their own, to be killed -9.

``python -m tests.functional.publisher_child STORE REMOTE HOST OWNER
[option=value ...]`` prints ``ready`` once the publisher has written the
agent's first sync, then runs until killed.
"""

import signal
import sys

from df_ovsdb_agent.agent import Agent
from tests.functional.stores import load_publisher


def _value(text):
    try:
        return int(text)
    except ValueError:
        return text


def main(argv):
    store, remote, host, owner = argv[:4]
    options = dict(arg.split('=', 1) for arg in argv[4:])
    agent = Agent(remote)
    publisher = load_publisher(store, agent, host, owner,
                               **{k: _value(v) for k, v in options.items()})
    publisher.start()
    agent.start()
    if not publisher.wait_flushed(30):
        print('not flushed', flush=True)
        return 1
    print('ready', flush=True)
    while True:
        signal.pause()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
