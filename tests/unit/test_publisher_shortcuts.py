"""The writer's per-record shortcuts give what the general paths give:
``stores.dumps`` is ``json.dumps`` -- over randomised, hostile inputs
(seeded: a failure names its seed).
"""

import json
import random

import pytest

from df_ovsdb_agent.cluster import stores

SEEDS = range(40)


def reference_dumps(data):
    return json.dumps(data, sort_keys=True, separators=(',', ':'))


def text(rng, size=None):
    """A string that may hold anything a hostile peer can send: controls,
    quotes, non-ASCII, astral characters, lone surrogates.
    """
    if size is None:
        size = rng.choice([0, 1, 5, 17, 64, 4095, 4096, 4097, 5000])
    pools = ['abc-_:.', '"\\/\b\f\n\r\t\x00\x01\x1f\x7f', 'éü€日本',
             '\U0001f600\U00010000', '\ud800\udcff\udfff']
    chars = ''.join(rng.sample(pools, rng.randint(1, len(pools))))
    return ''.join(rng.choices(chars, k=size))


def scalar(rng):
    return rng.choice([
        lambda: text(rng), lambda: text(rng, rng.randint(0, 40)),
        lambda: rng.randint(-2 ** 70, 2 ** 70), lambda: rng.randint(0, 9),
        lambda: rng.uniform(-1e300, 1e300), lambda: rng.choice(
            [float('inf'), float('-inf'), -0.0, 1e-320]),
        lambda: rng.choice([True, False, None])])()


def value(rng, depth=0):
    if depth < 3 and rng.random() < 0.15:
        if rng.random() < 0.5:
            return [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
        return {text(rng, rng.randint(0, 8)): value(rng, depth + 1)
                for _ in range(rng.randint(0, 4))}
    return scalar(rng)


@pytest.mark.parametrize('seed', SEEDS)
def test_dumps_is_json_dumps(seed):
    rng = random.Random(seed)
    for _ in range(30):
        data = {text(rng, rng.randint(0, 12)): value(rng)
                for _ in range(rng.randint(0, 14))}
        assert stores.dumps(data) == reference_dumps(data)
    nan = {'x': float('nan')}
    assert stores.dumps(nan) == reference_dumps(nan) == '{"x":NaN}'


@pytest.mark.parametrize('data', [
    {1: 'a', 2: 'b'}, {'a': object()}, {'a': 1, 2: 'b'}, {'a': b'x'},
    {(1, 2): 'a'}])
def test_dumps_fails_as_json_dumps_fails(data):
    try:
        expected = reference_dumps(data)
    except Exception as exc:
        with pytest.raises(type(exc)) as found:
            stores.dumps(data)
        assert str(found.value) == str(exc)
    else:
        assert stores.dumps(data) == expected


def test_dumps_refuses_a_circular_dict():
    data: dict = {'a': 1}
    data['self'] = data
    with pytest.raises((ValueError, RecursionError)):
        stores.dumps(data)
    # Nothing was left behind that refuses the next dict.
    assert stores.dumps({'a': 1}) == '{"a":1}'
