"""What the publishers no longer do per request or per record: the same
results, computed once (etcd client environment and API path, the event
JSON from the record's, ASCII sizes without encoding).
"""

import json
import threading

import pytest
import requests

from df_ovsdb_agent.cluster import stores
from df_ovsdb_agent.events import Action
from df_ovsdb_agent.publishers import base
from df_ovsdb_agent.publishers import etcd
from df_ovsdb_agent.publishers import records
from df_ovsdb_agent.state import Change
from tests.unit.publisher_support import instance
from tests.unit.publisher_support import rec

URL = 'http://127.0.0.1:1'


@pytest.fixture(autouse=True)
def _fresh_caches():
    etcd._API_PATHS.clear()
    etcd._ENVIRONMENTS.clear()
    yield
    etcd._API_PATHS.clear()
    etcd._ENVIRONMENTS.clear()


def _prepared(session, url=URL + '/v3/kv/range'):
    """What the session would send and where (proxies, verify)."""
    prep = session.prepare_request(requests.Request('POST', url, json={}))
    settings = session.merge_environment_settings(prep.url, {}, None, None,
                                                  None)
    return prep, settings


def test_settled_session_sends_what_a_trusting_one_sends(tmp_path,
                                                         monkeypatch):
    netrc = tmp_path / 'netrc'
    netrc.write_text('machine 127.0.0.1 login u1 password p1\n')
    netrc.chmod(0o600)
    monkeypatch.setenv('NETRC', str(netrc))
    monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.2:3128')
    monkeypatch.setenv('NO_PROXY', '')
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', str(tmp_path / 'ca.pem'))
    trusting = requests.Session()
    expected, expected_settings = _prepared(trusting)
    assert expected.headers['Authorization'].startswith('Basic ')

    settled = requests.Session()
    etcd.settle_environment(settled, URL)
    assert settled.trust_env is False
    got, got_settings = _prepared(settled)
    assert got.headers['Authorization'] == expected.headers['Authorization']
    assert got_settings == expected_settings
    assert got_settings['proxies']['http'] == 'http://127.0.0.2:3128'
    assert got_settings['verify'] == str(tmp_path / 'ca.pem')

    # Read once per process and URL: a later change of the environment is
    # not seen by the next session until a request to the URL fails.
    monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.3:3128')
    again = requests.Session()
    etcd.settle_environment(again, URL)
    assert again.proxies['http'] == 'http://127.0.0.2:3128'


def test_a_session_that_ignores_the_environment_is_left_alone(
        monkeypatch):
    monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.2:3128')
    session = requests.Session()
    session.trust_env = False
    etcd.settle_environment(session, URL)
    assert session.proxies == {} and session.auth is None
    assert not etcd._ENVIRONMENTS


def test_sessions_with_their_own_ca_do_not_share_it(
        monkeypatch, tmp_path):
    # What the environment adds is merged with the session's own CA, so a
    # result found for one session's CA is never applied to another's.
    monkeypatch.delenv('REQUESTS_CA_BUNDLE', raising=False)
    monkeypatch.delenv('CURL_CA_BUNDLE', raising=False)
    first, second = requests.Session(), requests.Session()
    first.verify = str(tmp_path / 'a.pem')
    second.verify = str(tmp_path / 'b.pem')
    etcd.settle_environment(first, URL)
    etcd.settle_environment(second, URL)
    assert first.verify == str(tmp_path / 'a.pem')
    assert second.verify == str(tmp_path / 'b.pem')


class _Client:
    """An etcd3gw client's public surface, counting API discoveries."""

    discoveries = 0

    def __init__(self, fail=False):
        self.base_url = URL
        self.session = requests.Session()
        self.timeout = 5
        self.fail = fail
        self.urls = []
        self._api_path = None

    def get_url(self, path):
        return self.base_url + self.api_path + path.lstrip("/")

    @property
    def api_path(self):
        # Like etcd3gw: one GET /version, the first time it is needed.
        if self._api_path is None:
            type(self).discoveries += 1
            self._api_path = '/v3/'
        return self._api_path

    def post(self, url, json=None):
        self.urls.append(url)
        if self.fail:
            raise ConnectionError('down')
        return {'kvs': []}


def _store(monkeypatch, client):
    monkeypatch.setattr(stores, 'etcd_client', lambda options: client)
    store = etcd.EtcdStore(stores.StoreOptions(url=URL), '/df', 60)
    store.bind(instance())
    store.connect()
    return store


def test_api_path_found_once_per_process_and_forgotten_on_failure(
        monkeypatch):
    _Client.discoveries = 0
    first = _Client()
    _store(monkeypatch, first).read_state()
    second = _Client()
    _store(monkeypatch, second).read_state()
    assert _Client.discoveries == 1
    assert first.urls == second.urls == [URL + '/v3/kv/range']
    failing = _store(monkeypatch, _Client(fail=True))
    with pytest.raises(ConnectionError):
        failing.read_state()
    assert URL not in etcd._API_PATHS
    _store(monkeypatch, _Client()).read_state()
    assert _Client.discoveries == 2


class _SlowClient(_Client):
    """A client whose API discovery waits for ``release``."""

    def __init__(self, release, asked):
        super().__init__()
        self.release = release
        self.asked = asked

    @property
    def api_path(self):
        self.asked.set()
        assert self.release.wait(5)
        return _Client.api_path.fget(self)


def test_publishers_starting_together_find_the_api_path_once(monkeypatch):
    # A cold start: the second publisher's first request comes while the
    # first one's GET /version is in flight; it waits for that answer.
    _Client.discoveries = _SlowClient.discoveries = 0
    release, asked = threading.Event(), threading.Event()
    first = _store(monkeypatch, _SlowClient(release, asked))
    second_client = _Client()
    second = _store(monkeypatch, second_client)
    reader = threading.Thread(target=first.read_state)
    reader.start()
    assert asked.wait(5)
    waiting = threading.Thread(target=second.read_state)
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive()  # waits for the first one's answer
    release.set()
    reader.join(5)
    waiting.join(5)
    # Counted on the class of the client that asked: the first one only.
    assert (_SlowClient.discoveries, _Client.discoveries) == (1, 0)
    assert second_client.urls == [URL + '/v3/kv/range']
    assert not etcd._FINDING


def test_a_failed_discovery_lets_the_waiting_publisher_ask(monkeypatch):
    class Failing(_Client):
        @property
        def api_path(self):
            raise ConnectionError('down')

    failing = _store(monkeypatch, Failing())
    with pytest.raises(ConnectionError):
        failing.read_state()
    assert not etcd._FINDING and URL not in etcd._API_PATHS
    _Client.discoveries = 0
    _store(monkeypatch, _Client()).read_state()
    assert _Client.discoveries == 1


@pytest.mark.parametrize('record', [
    rec('tap1', 'a', iface_id='i', attached_mac='fa:16:3e:00:00:01'),
    rec('t\u00e9\\"\x01', 'a'),
    dict(rec('tap1', 'a'), aardvark=1),  # a key before "action"
    dict(rec('tap1', 'a'), action='online'),  # an older event form
])
@pytest.mark.parametrize('action', [Action.ONLINE, Action.OFFLINE])
def test_event_text_is_the_events_json(record, action):
    change = Change(action, record['name'], record)
    expected = stores.dumps(records.event_of(change))
    assert records.event_text(change, stores.dumps(record)) == expected
    assert records.event_text(change) == expected
    assert json.loads(expected)['action'] == action.value


@pytest.mark.parametrize('value', ['x' * 4096, 'x' * 4097, '\x01' * 3000,
                                   '\u00e9' * 2048, '\u00e9' * 2049,
                                   'tap\udcff', ''])
def test_ascii_size_shortcut_gives_the_same_verdict(value):
    """check_record's verdict equals the one from encoding every value."""
    record = rec('tap1', 'a', iface_id=value)
    got = records.check_record(record)
    try:
        size = len(value.encode('utf-8'))
    except UnicodeEncodeError:
        assert got == records.Aside('not_unicode',
                                    'iface_id is not valid Unicode')
        return
    if size > records.MAX_VALUE_BYTES:
        assert got.code == 'too_large' and '%d bytes' % size in got.text
    elif len(stores.dumps(record)) > records.MAX_RECORD_BYTES:
        assert got.code == 'too_large'
    else:
        assert got is None


def test_package_version_is_read_once(monkeypatch):
    from importlib import metadata
    base.package_version.cache_clear()
    calls = []
    monkeypatch.setattr(metadata, 'version',
                        lambda name: calls.append(name) or '9.9')
    try:
        assert base.package_version() == base.package_version() == '9.9'
        assert calls == ['df-ovsdb-agent']
    finally:
        base.package_version.cache_clear()
