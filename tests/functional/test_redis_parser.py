"""Which reply parser redis-py uses: hiredis with the ``redis`` extra, its
own Python parser without it -- and the Redis publisher and reader work
with either, against a real redis-server.
"""

import os
import subprocess
import sys

import pytest

from tests.functional.stores import redis_server_fixture  # noqa: F401

pytestmark = [pytest.mark.functional, pytest.mark.timeout(300)]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# A publisher test and reader tests, run again with hiredis hidden.
WITHOUT_HIREDIS = [
    'tests/functional/test_publisher_redis.py::'
    'test_state_hash_and_event_stream',
    'tests/functional/test_cluster_redis.py::'
    'test_host_liveness_expiry_and_return',
    'tests/functional/test_cluster_redis.py::'
    'test_stream_trimmed_under_a_slow_reader',
]


def _hide_hiredis(tmp_path):
    """The environment of a child whose ``import hiredis`` fails, as it
    does where hiredis is not installed (children of the child too).
    """
    shadow = tmp_path / 'no-hiredis'
    shadow.mkdir()
    (shadow / 'hiredis.py').write_text(
        'raise ImportError("hiredis hidden by the test")\n')
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(shadow)] + [p for p in [env.get('PYTHONPATH')] if p])
    return env


def _parser_of_a_live_connection(url, env=None):
    code = ('import redis, sys\n'
            'client = redis.Redis.from_url(sys.argv[1])\n'
            'assert client.ping()\n'
            'conn = client.connection_pool.get_connection("PING")\n'
            'print(type(conn._parser).__name__)\n')
    result = subprocess.run([sys.executable, '-c', code, url],
                            capture_output=True, text=True, timeout=60,
                            env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_redis_extra_makes_redis_py_parse_with_hiredis(redis_server):
    """hiredis is in the ``redis`` extra, and the installed redis-py (at the
    minimum pair and the newest) takes it: an incompatible pair would
    leave redis-py on its Python parser without a word.
    """
    import hiredis

    assert hiredis.__version__
    assert 'Hiredis' in _parser_of_a_live_connection(redis_server.url)


def test_publisher_and_reader_work_without_hiredis(tmp_path, redis_server):
    """redis-py falls back to its Python parser; the product needs none."""
    env = _hide_hiredis(tmp_path)
    parser = _parser_of_a_live_connection(redis_server.url, env)
    assert 'Hiredis' not in parser and 'Parser' in parser, parser
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-q']
        + WITHOUT_HIREDIS,
        capture_output=True, text=True, timeout=280, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert '%d passed' % len(WITHOUT_HIREDIS) in result.stdout, result.stdout
