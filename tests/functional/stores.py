"""Fixtures and readers for real etcd and redis-server, for the publishers.

The servers are :mod:`df_ovsdb_agent.testing.stores`'s, on free 127.0.0.1
ports, stopped by PID.  Import the fixtures into a test module::

    from tests.functional.stores import etcd_server_fixture  # noqa: F401
"""

import base64
import json

from oslo_config import cfg
import pytest

from df_ovsdb_agent.cluster.stores import etcd_b64
from df_ovsdb_agent.cluster.stores import etcd_range_end
from df_ovsdb_agent import conf as conf_lib
from df_ovsdb_agent import plugins
from df_ovsdb_agent.testing.sandbox import wait_for
from df_ovsdb_agent.testing.stores import EtcdServer
from df_ovsdb_agent.testing.stores import RedisServer

PASSWORD = 'S3cret-never-logged'


@pytest.fixture(name='etcd_server')
def etcd_server_fixture(tmp_path):
    """A running etcd on 127.0.0.1, stopped at teardown."""
    server = EtcdServer(str(tmp_path / 'etcd'))
    server.start()
    yield server
    server.stop()


@pytest.fixture(name='redis_server')
def redis_server_fixture(tmp_path):
    """A running redis-server on 127.0.0.1, stopped at teardown."""
    server = RedisServer(str(tmp_path / 'redis'))
    server.start()
    yield server
    server.stop()


def load_publisher(name, agent, host='hv1', owner=None, **options):
    """A publisher plugin loaded the way the daemon loads it, not started.

    ``max_backoff`` defaults to 0.5 s; ``owner`` sets the owner id it
    claims its host with.
    """
    conf = cfg.ConfigOpts()
    conf_lib.register_opts(conf)
    conf([], project='df-ovsdb-agent', default_config_files=[])
    conf.set_override('host', host)
    cls = plugins.available(plugins.PUBLISHERS_NAMESPACE)[name]
    group = plugins.group_name(plugins.PUBLISHERS_NAMESPACE, name)
    conf.register_opts(cls.CONFIG_OPTS, group=group)
    options.setdefault('max_backoff', 0.5)
    for key, value in options.items():
        conf.set_override(key, value, group=group)
    [plugin] = plugins.load(plugins.PUBLISHERS_NAMESPACE, [name], conf,
                            agent)
    if owner is not None:
        plugin.owner_id = owner
    return plugin


@pytest.fixture(name='make_publisher')
def make_publisher_fixture():
    """Load publishers the way the daemon does: plugins.load + ConfigOpts.

    ``factory(name, agent, host, owner=None, **options)`` returns the
    started plugin (see :func:`load_publisher`); every plugin is stopped at
    teardown.
    """
    started = []

    def factory(name, agent, host='hv1', owner=None, **options):
        plugin = load_publisher(name, agent, host, owner, **options)
        plugin.start()
        started.append(plugin)
        return plugin

    yield factory
    for plugin in started:
        plugin.stop()


def etcd_records(server, host=None, prefix='/df-ovsdb-agent'):
    """name (or host/name) -> (record, lease) of what etcd holds."""
    found = {}
    top = prefix + '/' + (host + '/interfaces/' if host else '')
    for value, meta in server.client().get_prefix(top):
        key = meta['key'].decode()[len(top):]
        found[key] = (json.loads(value), int(meta.get('lease', 0)))
    return found


def etcd_alive(server, host, prefix='/df-ovsdb-agent'):
    """(liveness record, lease) of ``host`` in etcd, or None."""
    found = server.client().get('%s/%s/alive' % (prefix, host),
                                metadata=True)
    if not found:
        return None
    value, meta = found[0]
    return json.loads(value), int(meta.get('lease', 0))


def etcd_revision(server):
    """etcd's current revision."""
    return int(server.client().status()['header']['revision'])


def etcd_range(server, prefix, **options):
    """The kvs of every key under ``prefix`` (a raw range request;
    ``options`` such as ``revision`` or ``keys_only`` go with it).
    """
    client = server.client()
    return client.post(client.get_url('/kv/range'), json=dict(
        key=etcd_b64(prefix), range_end=etcd_range_end(prefix),
        **options)).get('kvs', [])


def etcd_state_at(server, revision, prefix='/df-ovsdb-agent/'):
    """key -> value under ``prefix`` as of ``revision``."""
    return {base64.b64decode(kv['key']).decode():
            base64.b64decode(kv.get('value', '')).decode()
            for kv in etcd_range(server, prefix, revision=revision)}


def etcd_changes_since(server, revision, what='/interfaces/'):
    """Every change a consumer comparing values sees after ``revision``.

    Walks etcd's history one revision at a time (what a watch from
    ``revision + 1`` delivers): a key that appears, disappears or gets
    another value is a change; a key rewritten with its value is none.
    Only keys containing ``what`` count.  Returns (revision, key, old,
    new) tuples, None standing for "absent".
    """
    changes = []
    before = etcd_state_at(server, revision)
    for rev in range(revision + 1, etcd_revision(server) + 1):
        after = etcd_state_at(server, rev)
        for key in sorted(set(before) | set(after)):
            if what in key and before.get(key) != after.get(key):
                changes.append((rev, key, before.get(key), after.get(key)))
        before = after
    return changes


def etcd_keys_per_lease(server, host, prefix='/df-ovsdb-agent'):
    """lease -> how many of ``host``'s keys (interfaces and alive) it
    holds.
    """
    counts: dict = {}
    for kv in etcd_range(server, '%s/%s/' % (prefix, host),
                         keys_only=True):
        lease = int(kv.get('lease', 0))
        counts[lease] = counts.get(lease, 0) + 1
    return counts


def etcd_leases(server, host, prefix='/df-ovsdb-agent'):
    """The set of leases holding ``host``'s keys (interfaces and alive)."""
    return set(etcd_keys_per_lease(server, host, prefix))


def etcd_written_since(server, host, revision, prefix='/df-ovsdb-agent'):
    """Names of ``host``'s interface keys put after ``revision``.

    Even those written with the value they had.
    """
    top = '%s/%s/interfaces/' % (prefix, host)
    return sorted(base64.b64decode(kv['key']).decode()[len(top):]
                  for kv in etcd_range(server, top, keys_only=True)
                  if int(kv['mod_revision']) > revision)


def etcd_lease_ttl(server, lease):
    """Seconds ``lease`` has left (-1: etcd does not know it)."""
    client = server.client()
    return int(client.post(client.get_url('/lease/timetolive'),
                           json={'ID': lease}).get('TTL', -1))


def etcd_lease_alive(server, lease):
    """Whether etcd still knows ``lease``."""
    return etcd_lease_ttl(server, lease) > 0


def redis_alive(server, host, key_prefix='df-ovsdb-agent'):
    """The liveness record of ``host`` in Redis, or None."""
    value = server.client().get('%s:%s:alive' % (key_prefix, host))
    return None if value is None else json.loads(value)


def expected_records(agent, host):
    """name -> record the publishers should hold for ``agent``."""
    return {i.name: dict(i.to_dict(), host=host)
            for i in agent.interfaces()}


def wait_until(predicate, timeout=15.0, what='the store to converge'):
    """Poll an external store until ``predicate()`` is true."""
    wait_for(predicate, timeout, what, interval=0.05)


def enable_etcd_auth(server, password=PASSWORD):
    """Create user root with ``password`` and turn authentication on."""
    client = server.client()
    for path, body in (
            ('/auth/user/add', {'name': 'root', 'password': password}),
            ('/auth/user/grant', {'user': 'root', 'role': 'root'}),
            ('/auth/enable', {})):
        client.post(client.get_url(path), json=body)
