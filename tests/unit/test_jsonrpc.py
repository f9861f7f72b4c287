"""The JSON-RPC framer: message boundaries, limits and bad input."""

import json
import random
import threading

import pytest

from df_ovsdb_agent.ovsdb import jsonrpc
from df_ovsdb_agent.ovsdb.jsonrpc import Framer
from df_ovsdb_agent.ovsdb.jsonrpc import MessageTooBig
from df_ovsdb_agent.ovsdb.jsonrpc import ProtocolError

TRICKY = [
    {'id': 1, 'result': {'a': '}{"\\', 'b': ['{', '}', '"']}},
    {'method': 'update3', 'params': ['m', 'x', {'T': {'u': {'insert': {
        'name': 'tap\\"}0',
        'external_ids': ['map', [['k', 'v\u00e9\U0001f600']]]}}}}]},
    {'method': 'echo', 'params': [], 'id': 'echo'},
    {'nested': {'deep': {'er': [{'x': {}}, {}]}}, 's': '\\\\'},
]


def _stream(messages, ascii_only=False):
    return b' \n'.join(json.dumps(m, ensure_ascii=ascii_only).encode()
                       for m in messages)


@pytest.mark.parametrize('chunk', [1, 2, 3, 7, 64, 1 << 20])
@pytest.mark.parametrize('ascii_only', [True, False])
def test_messages_split_anywhere_come_out_whole(chunk, ascii_only):
    data = _stream(TRICKY * 3, ascii_only)
    framer, out = Framer(1 << 20), []
    for start in range(0, len(data), chunk):
        out.extend(framer.feed(data[start:start + chunk]))
    assert out == TRICKY * 3
    assert framer.pending == 0


def test_random_splits_of_random_messages():
    rand = random.Random(5)
    alphabet = 'ab{}[]"\\/\n\u00fc'
    messages = [{'k%d' % i: ''.join(rand.choice(alphabet)
                                    for _ in range(rand.randint(0, 30))),
                 'n': {'x': [i, {'y': 'z'}]}} for i in range(200)]
    data = _stream(messages)
    framer, out, pos = Framer(1 << 20), [], 0
    while pos < len(data):
        step = rand.randint(1, 40)
        out.extend(framer.feed(data[pos:pos + step]))
        pos += step
    assert out == messages


def test_limit_applies_to_the_message_in_progress_before_parsing():
    framer = Framer(1000)
    framer.feed(b'{"id": 1, "result": "' + b'x' * 900)
    with pytest.raises(MessageTooBig):
        framer.feed(b'x' * 200)


def test_many_small_messages_do_not_add_up_to_the_limit():
    framer = Framer(100)
    data = b''.join(b'{"id": %d}' % i for i in range(1000))
    assert len(framer.feed(data)) == 1000


def test_a_complete_message_over_the_limit_is_refused():
    with pytest.raises(MessageTooBig):
        Framer(10).feed(b'{"id": 1, "result": "long enough"}')


@pytest.mark.parametrize('data', [
    b'\x00\xff\xfe garbage',
    b'[1, 2, 3]',
    b'"a string"',
    b'{"a": 1,,}',
    b'{"a": "\xff\xfe"}',
    b'{"a": 1} }',
])
def test_bad_input_is_a_protocol_error(data):
    with pytest.raises(ProtocolError):
        Framer(1000).feed(data)


def test_escape_split_between_chunks():
    framer = Framer(1000)
    assert framer.feed(b'{"a": "x\\') == []
    assert framer.feed(b'"}') == []  # an escaped quote: still a string
    assert framer.feed(b'"') == []
    assert framer.feed(b'} {"b": "\\\\"}') == [{'a': 'x"}'}, {'b': '\\'}]


def test_huge_string_in_small_chunks_is_linear():
    # 16 MiB in 64 KiB chunks: a rescanning framer would do 256x the work.
    value = b'x' * (16 << 20)
    data = b'{"id": 1, "result": "' + value + b'"}'
    framer, out = Framer(32 << 20), []
    for start in range(0, len(data), 65536):
        out.extend(framer.feed(data[start:start + 65536]))
    assert len(out) == 1 and len(out[0]['result']) == 16 << 20


def test_a_big_message_is_held_in_memory_twice_at_most():
    # The buffer is dropped before parsing and decoded without a bytes
    # copy first: peak = the text and the parsed value (plus one chunk),
    # where it used to be the buffer, a slice, its bytes copy, the text
    # and the value.
    import tracemalloc
    size = 8 << 20
    head = b'{"id":1,"error":null,"result":"'
    body = b'x' * size
    chunk = 1 << 20
    framer = Framer(64 << 20)
    tracemalloc.start()
    try:
        out = []
        data = head + body + b'"}'
        for at in range(0, len(data), chunk):
            out += framer.feed(data[at:at + chunk])
        del data
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(out) == 1 and len(out[0]['result']) == size
    # `data` itself (held by the test, not the framer) is one more copy.
    assert peak < 3.4 * size, peak / size


def _nest(depth, leaf):
    for level in range(depth):
        leaf = {'k%d' % level: leaf, 's': '}{"\\', 'l': [level, {}]}
    return leaf


@pytest.mark.parametrize('depth', [1, 3, 4, 5, 9])
def test_nesting_around_the_skip_depth_split_at_every_byte(depth):
    # Objects up to a few levels deep are skipped by one regex match,
    # deeper ones brace by brace: both, split anywhere, frame the same.
    messages = [_nest(depth, 'x'), {'id': 2, 'result': _nest(depth, {})}]
    data = _stream(messages, ascii_only=False)
    for cut in range(len(data) + 1):
        framer = Framer(1 << 20)
        out = framer.feed(data[:cut]) + framer.feed(data[cut:])
        assert out == messages, cut
        assert framer.pending == 0


def test_deep_nesting_in_small_chunks_is_refused_not_slow():
    # 200,000 levels: each chunk costs a bounded number of scans of
    # itself (a framer that re-scanned open objects would not finish);
    # the parser then refuses the depth.
    data = b'{"a":' * 200000 + b'1' + b'}' * 200000
    framer = Framer(8 << 20)
    with pytest.raises(ProtocolError):
        for start in range(0, len(data), 4096):
            framer.feed(data[start:start + 4096])


def _big(n, text='tap\u00e9 }{"\\'):
    """An update message of ``n`` rows: well past the size at which the
    framer lets the parser find a message's end.
    """
    return {'method': 'update3', 'params': ['m', 'txn', {'Interface': {
        'u%06d' % i: {'initial': {'name': '%s%d' % (text, i), 'ofport': i,
                                  'external_ids': ['map', [['k', '}']]]}}
        for i in range(n)}}]}


@pytest.mark.parametrize('drained', ['always', 'never', 'at_ends'])
def test_big_messages_come_out_whole_however_the_reads_fall(drained):
    messages = [_big(3000), {'id': 'echo', 'result': []}, _big(2000),
                _big(10, 'x'), _big(4000)]
    data = _stream(messages, ascii_only=False)
    ends = set()
    pos = -1
    for message in messages:
        pos += len(json.dumps(message, ensure_ascii=False).encode()) + 2
        ends.add(pos - 1)
    rand = random.Random(7)
    framer, out, at = Framer(8 << 20), [], 0
    while at < len(data):
        step = rand.choice([1, 17, 4096, 65536, 300000])
        chunk = data[at:at + step]
        at += len(chunk)
        pause = {'always': True, 'never': at >= len(data),
                 'at_ends': at - 1 in ends or at >= len(data)}[drained]
        out.extend(framer.feed(chunk, pause))
    assert out == messages
    assert framer.pending == 0 and not framer.deferred


def test_reads_that_end_in_a_brace_mid_message_cost_a_bounded_number_of_parses(
        monkeypatch):
    # A peer that pauses after every "}" of a big message: one pause is a
    # parse that fails, then the scanner finds the end.
    message = _big(5000)
    data = json.dumps(message).encode()
    parsed = []
    real = jsonrpc._DECODER.raw_decode

    def counting(text):
        parsed.append(len(text))
        return real(text)
    monkeypatch.setattr(jsonrpc._DECODER, 'raw_decode', counting)
    framer, out, start = Framer(8 << 20), [], 0
    for end in range(1, len(data) + 1):
        if data[end - 1:end] == b'}':
            out.extend(framer.feed(data[start:end]))
            start = end
    assert out == [message]
    assert sum(parsed) <= len(data), (len(parsed), sum(parsed) / len(data))


def test_a_big_message_over_the_limit_is_refused_while_deferred():
    framer = Framer(200000)
    data = json.dumps(_big(3000)).encode()
    assert len(data) > 200000
    with pytest.raises(MessageTooBig):
        for start in range(0, len(data), 65536):
            framer.feed(data[start:start + 65536], False)


def test_bad_bytes_in_a_big_message_are_the_same_protocol_error():
    data = json.dumps(_big(3000)).encode()
    bad = data[:100000] + b'\xff' + data[100000:]
    framer = Framer(8 << 20)
    with pytest.raises(ProtocolError, match='does not parse'):
        for start in range(0, len(bad), 65536):
            framer.feed(bad[start:start + 65536])


def test_a_big_message_right_before_the_peer_closes_is_delivered():
    # The read that ends the message may see the close already waiting
    # (no pause to parse at): the message still comes first, then the
    # close.
    import socket
    ours, theirs = socket.socketpair()
    conn = jsonrpc.Connection('unix:test', ours, 8 << 20)
    message = _big(3000)
    data = json.dumps(message).encode()

    def peer():
        theirs.sendall(data)
        theirs.close()
    writer = threading.Thread(target=peer)
    writer.start()
    try:
        got = []
        with pytest.raises(jsonrpc.ConnectionClosed):
            while True:
                msg = conn.recv(5)
                assert msg is not None
                got.append(msg)
        assert got == [message]
    finally:
        writer.join(10)
        conn.close()


# -- big messages: rows staged while parsed (walk_message) -------------------

class _NoStaging:
    """A hook that stages nothing: the walk must equal json.loads."""

    def stager(self, table):
        return None

    def staged_rows(self):
        return {}

    def run_stager(self, table):
        return None


def _replica():
    from df_ovsdb_agent.ovsdb.replica import ColumnType
    from df_ovsdb_agent.ovsdb.replica import Replica
    return Replica({'T': {
        'name': ColumnType('string'),
        'ids': ColumnType('string', 'string', 0, float('inf'))}})


def _dump(count, rows_method='monitor_cond_since'):
    rows = {'%08d-u' % i: {'initial': {
        'name': 'tap%d' % i, 'ids': ['map', [['iface-id', 'p%d' % i]]]}}
        for i in range(count)}
    rows['bad-row'] = {'initial': {'name': 5}}   # left for apply to refuse
    rows['modified'] = {'modify': {'name': 'x'}}
    tables = {'T': rows, 'Other': {'o': {'initial': {'x': 1}}}}
    if rows_method == 'monitor_cond':
        return {'id': 'monitor-1', 'result': tables, 'error': None}
    return {'id': 'monitor-1', 'result': [False, 'txn', tables],
            'error': None}


@pytest.mark.parametrize('message', TRICKY + [
    {'k\\u00e9\\"y': [1, [2, [3, {'a': [4]}]], {}], ' ': {' x ': []}},
    {'result': [], 'e': {}, 'x': [[[]]], 'n': None, 'f': 1.5e3},
    _dump(3), _dump(3, 'monitor_cond')])
@pytest.mark.parametrize('indent', [None, 2])
def test_walk_without_staging_equals_json_loads(message, indent):
    text = json.dumps(message, indent=indent) + '  {"next": 1}'
    value, end = jsonrpc.walk_message(text, _NoStaging())
    assert (value, end) == json.JSONDecoder().raw_decode(text)


@pytest.mark.parametrize('method', ['monitor_cond_since', 'monitor_cond'])
def test_walked_dump_stages_initial_rows_and_applies_the_same(method):
    message = _dump(50, method)
    replica = _replica()
    value, _ = jsonrpc.walk_message(json.dumps(message), replica)
    tables = value['result'] if method == 'monitor_cond' else \
        value['result'][2]
    staged = tables['T']
    assert type(staged['00000001-u']) is tuple
    # What does not fit, and what is not an initial row, stay as parsed.
    assert staged['bad-row'] == {'initial': {'name': 5}}
    assert staged['modified'] == {'modify': {'name': 'x'}}
    assert tables['Other'] == message_tables(message)['Other']
    plain, walked = _replica(), replica
    good = {u: r for u, r in message_tables(message)['T'].items()
            if u != 'bad-row' and u != 'modified'}
    plain.apply({'T': good}, 2)
    kept = walked.staged_rows()
    kept.update((u, r) for u, r in staged.items() if u in good)
    walked.apply({'T': kept}, 2)
    assert walked.rows('T') == plain.rows('T')
    with pytest.raises(jsonrpc_update_error()):
        walked.apply({'T': {'bad-row': staged['bad-row']}}, 2)


def message_tables(message):
    result = message['result']
    return result[2] if isinstance(result, list) else result


def jsonrpc_update_error():
    from df_ovsdb_agent.ovsdb.replica import UpdateError
    return UpdateError


def test_rows_staged_by_another_replica_are_refused():
    first, second = _replica(), _replica()
    value, _ = jsonrpc.walk_message(json.dumps(_dump(2)), first)
    with pytest.raises(jsonrpc_update_error()):
        second.apply(value['result'][2], 2)


def test_a_walk_cut_short_anywhere_fails():
    text = json.dumps(_dump(20))
    for cut in list(range(1, 200)) + list(range(len(text) - 200,
                                                len(text))):
        with pytest.raises((ValueError, IndexError, StopIteration)):
            jsonrpc.walk_message(text[:cut], _replica())


@pytest.mark.parametrize('chunk', [4096, 65536, 1 << 20])
def test_framer_stages_a_big_message_split_anywhere(chunk):
    message = _dump(4000)
    data = _stream([TRICKY[0], message, TRICKY[2]])
    assert len(data) > jsonrpc.WALK_AFTER
    framer, out = Framer(1 << 24), []
    replica = framer.row_hook = _replica()
    for start in range(0, len(data), chunk):
        last = start + chunk >= len(data)
        out.extend(framer.feed(data[start:start + chunk], drained=last))
    assert [m['id'] for m in out] == [1, 'monitor-1', 'echo']
    assert out[1]['result'][:2] == [False, 'txn']
    rows = out[1]['result'][2]['T']
    assert type(rows['00000007-u']) is tuple
    assert type(rows).__name__ == 'StagedRows' and rows.owner is replica
    assert len(rows) == 4002


_CONNECT = '''
import socket, sys
from df_ovsdb_agent.ovsdb import jsonrpc
server = socket.create_server(('127.0.0.1', 0))
port = server.getsockname()[1]
for host in sys.argv[1:]:
    sock = jsonrpc._connect_socket('tcp:%s:%d' % (host, port), 5, None)
    peer, _ = server.accept()
    assert sock.getpeername() == server.getsockname(), sock.getpeername()
    sock.sendall(b'ok')
    assert peer.recv(2) == b'ok'
    sock.close(); peer.close()
print('encodings.idna' in sys.modules)
'''


@pytest.mark.parametrize('hosts', [['127.0.0.1'], ['localhost', '127.0.0.1']])
def test_a_tcp_remote_connects_without_the_idna_codec(hosts):
    """An ASCII host is resolved as bytes: the idna codec (imported at its
    first use, ~1.5 ms of CPU) is never needed, names still resolve.
    """
    import subprocess
    import sys
    out = subprocess.run([sys.executable, '-c', _CONNECT] + hosts,
                         check=True, capture_output=True, text=True).stdout
    assert out.strip() == 'False'


# -- the compact row key (,"<uuid>":{) taken without the regex --------------

class _Identity:
    """Stages every table's rows as they are parsed (no replica)."""

    def stager(self, table):
        return lambda update: update

    def staged_rows(self):
        return {}

    def run_stager(self, table):
        return None


def _walk_outcome(text):
    try:
        return 'ok', jsonrpc.walk_message(text, _Identity())
    except (ValueError, IndexError, StopIteration, RecursionError) as exc:
        return type(exc).__name__, str(exc)


def _hostile_keys(rng):
    """Keys around the compact form's 36 characters: uuids, escapes,
    quotes, backslashes, control and non-ASCII characters.
    """
    uuid = '%08x-%04x-%04x-%04x-%012x' % (
        rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16),
        rng.getrandbits(16), rng.getrandbits(48))
    return [uuid, uuid[:35], uuid + 'a', uuid[:30] + '"' + uuid[31:],
            uuid[:30] + '\\' + uuid[31:], uuid[:20] + '\u00e9' + uuid[21:],
            uuid[:10] + '\n' + uuid[11:], '', 'x', '"', '\\',
            uuid[:34] + '":', uuid[:33] + '":{']


@pytest.mark.parametrize('seed', range(20))
def test_compact_row_keys_parse_as_the_general_path(seed, monkeypatch):
    # The same values, ends and errors with the shortcut on and off, on
    # compact and spaced text, whole and cut short anywhere.
    import random
    rng = random.Random(seed)
    keys = _hostile_keys(rng)
    rows = [(rng.choice(keys), rng.choice([{'initial': {'n': i}}, {}, [i],
                                           'v', {'k': '":{'}]))
            for i in range(rng.randint(1, 12))]
    separators = rng.choice([(',', ':'), (', ', ': '), (' ,\n', ' :\t')])
    body = separators[0].join(
        json.dumps(key, ensure_ascii=rng.random() < 0.5) + separators[1]
        + json.dumps(value, separators=(',', ':')) for key, value in rows)
    text = '{"id":1,"result":[false,"t",{"T":{%s},"U":{}}]}' % body
    if rng.random() < 0.3:
        # Raw escapes the JSON encoder would not write, and bad JSON.
        text = text.replace('-', rng.choice(['\\u002d', '\\"', '"', '\\']),
                            1)
    texts = [text] + [text[:cut] for cut in range(len(text))]
    fast = [_walk_outcome(t) for t in texts]
    monkeypatch.setattr(jsonrpc, '_COMPACT_KEYS', False)
    assert fast == [_walk_outcome(t) for t in texts]
    if fast[0][0] == 'ok':
        assert fast[0][1] == json.JSONDecoder().raw_decode(text)


def test_a_compact_dump_takes_its_row_keys_without_the_regex(monkeypatch):
    # ovsdb-server's own form: the regex is asked once per table (its
    # end), not once per row, and the walk still equals json.loads.
    calls = []

    class Counting:
        def match(self, text, pos):
            calls.append(pos)
            return None

    monkeypatch.setattr(jsonrpc, '_NEXT_ROW', Counting())
    tables = {'T': {'%08x-0000-4000-8000-%012x' % (i, i): {
        'initial': {'name': 'tap%d' % i}} for i in range(50)},
        'U': {'12345678-0000-4000-8000-000000000000': {'initial': {}}}}
    text = json.dumps({'id': 1, 'result': [False, 't', tables]},
                      separators=(',', ':'))
    value, end = jsonrpc.walk_message(text, _Identity())
    assert (value, end) == json.JSONDecoder().raw_decode(text)
    assert len(calls) == 2


# -- a run of rows staged straight from the text (Replica.run_stager) ------

def _port_replica():
    from df_ovsdb_agent.ovsdb.replica import ColumnType
    from df_ovsdb_agent.ovsdb.replica import Replica
    return Replica({'P': {
        'interfaces': ColumnType('uuid', None, 1, float('inf'))}})


def _staged_outcome(text, run):
    from df_ovsdb_agent.ovsdb.replica import UpdateError
    replica = _port_replica()
    if not run:
        replica.run_stager = lambda table: None
    try:
        value, end = jsonrpc.walk_message(text, replica)
    except (ValueError, IndexError, StopIteration, RecursionError) as exc:
        return type(exc).__name__, str(exc)
    rows = value['result'][2].get('P')
    staged = dict(rows) if isinstance(rows, dict) else rows
    try:
        replica.apply(value['result'][2], 2, consume=True)
    except UpdateError as exc:
        return 'ok', staged, end, 'UpdateError', str(exc)
    return 'ok', staged, end, replica.tables


@pytest.mark.parametrize('seed', range(40))
def test_run_rows_stage_as_the_general_path(seed, monkeypatch):
    # ovsdb-server's compact one-uuid rows among every other form, in
    # batches of 1-4 rows: the same staged rows, replica, ends and errors
    # with the run and without it, whole and cut short.
    from df_ovsdb_agent.ovsdb import replica as replica_lib
    rng = random.Random(seed)
    monkeypatch.setattr(replica_lib, 'RUN_ROWS', rng.randint(1, 4))
    keys = _hostile_keys(rng)

    def uuid():
        return rng.choice(keys) if rng.random() < 0.1 else \
            _hostile_keys(rng)[0]

    def update():
        one = ['uuid', uuid()]
        return rng.choice([
            {'initial': {'interfaces': one}}] * 6 + [
            {'initial': {'interfaces': ['set', [one, ['uuid', uuid()]]]}},
            {'initial': {'interfaces': ['set', []]}},
            {'initial': {'interfaces': ['uuid', uuid().upper()]}},
            {'initial': {'interfaces': ['uuid', 5]}},
            {'initial': {'interfaces': one, 'name': 'x'}},
            {'initial': {}}, {'insert': {'interfaces': one}},
            {'modify': {'interfaces': one}}, {'delete': None}, {}, [1]])
    count = rng.randint(0, 30)
    rows = [(uuid(), update()) for _ in range(count)]
    if rows and rng.random() < 0.3:
        rows.append(rng.choice(rows))  # a row twice: the later one wins
    separators = (',', ':') if rng.random() < 0.8 else (', ', ': ')
    body = ','.join(
        json.dumps(key) + ':' + json.dumps(value, separators=separators)
        for key, value in rows)
    text = '{"id":1,"result":[false,"t",{"P":{%s},"U":{}}]}' % body
    if rng.random() < 0.2:
        text = text.replace('-', rng.choice(['\\u002d', '\\"', '"']), 1)
    texts = [text] + [text[:cut] for cut in
                      sorted(rng.sample(range(len(text)),
                                        min(len(text), 40)))]
    for one in texts:
        assert _staged_outcome(one, True) == _staged_outcome(one, False)


def test_a_dump_of_one_uuid_rows_is_staged_by_the_run(monkeypatch):
    # ovsdb-server's Port dump: every row taken by the run (no row
    # parsed), in batches, and the replica holds what apply() makes of
    # the rows parsed whole.
    from df_ovsdb_agent.ovsdb import replica as replica_lib
    monkeypatch.setattr(replica_lib, 'RUN_ROWS', 7)
    rows = {'%08x-0000-4000-8000-%012x' % (i, i): {'initial': {
        'interfaces': ['uuid', '%08x-1111-4000-8000-%012x' % (i, i)]}}
        for i in range(50)}
    text = json.dumps({'id': 1, 'result': [False, 't', {'P': rows}]},
                      separators=(',', ':'))
    replica = _port_replica()
    scanned = []

    def scan_once(text, pos):
        scanned.append(pos)
        return json.JSONDecoder().raw_decode(text, pos)
    monkeypatch.setattr(jsonrpc, '_scan_once', scan_once)
    value, end = jsonrpc.walk_message(text, replica)
    # Only the values before the table were parsed.
    assert end == len(text) and scanned
    assert max(scanned) < text.index('"P"')
    replica.apply(value['result'][2], 2)
    plain = _port_replica()
    plain.apply({'P': rows}, 2)
    assert replica.tables == plain.tables
    assert replica.rows('P')['%08x-0000-4000-8000-%012x' % (3, 3)] == {
        'interfaces': frozenset({'00000003-1111-4000-8000-000000000003'})}
