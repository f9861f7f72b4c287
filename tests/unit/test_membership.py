"""Bridge membership of interfaces, followed one transaction at a time."""

import random

import pytest

from df_ovsdb_agent.ovsdb.membership import Membership


def bridge(name, *ports):
    return {'name': name, 'ports': frozenset(ports)}


def port(*ifaces):
    return {'name': 'p', 'interfaces': frozenset(ifaces)}


def test_rebuild_and_lookup():
    m = Membership()
    m.rebuild({'B1': bridge('br-int', 'P1', 'P2'), 'B2': bridge('br-ex')},
              {'P1': port('I1'), 'P2': port('I2', 'I3'), 'P9': port('I9')})
    assert [m.bridge_of(i) for i in ('I1', 'I2', 'I3', 'I9', 'nope')] == [
        'br-int', 'br-int', 'br-int', None, None]


def test_port_added_in_one_transaction():
    m = Membership()
    bridges = {'B1': bridge('br-int')}
    ports = {}
    m.rebuild(bridges, ports)
    bridges['B1'] = bridge('br-int', 'P1')
    ports['P1'] = port('I1')
    assert m.update(bridges, ports, ['B1'], ['P1']) == {'I1'}
    assert m.bridge_of('I1') == 'br-int'


def test_move_between_bridges_reports_the_interface():
    m = Membership()
    bridges = {'B1': bridge('br-int', 'P1'), 'B2': bridge('br-ex')}
    ports = {'P1': port('I1')}
    m.rebuild(bridges, ports)
    # One transaction: the port leaves br-int and joins br-ex.
    bridges['B1'] = bridge('br-int')
    bridges['B2'] = bridge('br-ex', 'P1')
    assert m.update(bridges, ports, ['B1', 'B2'], []) == {'I1'}
    assert m.bridge_of('I1') == 'br-ex'
    # Same, the other order of rows within the transaction.
    bridges['B2'] = bridge('br-ex')
    bridges['B1'] = bridge('br-int', 'P1')
    assert m.update(bridges, ports, ['B2', 'B1'], []) == {'I1'}
    assert m.bridge_of('I1') == 'br-int'


def test_port_and_bridge_deleted_and_renamed():
    m = Membership()
    bridges = {'B1': bridge('br-int', 'P1', 'P2')}
    ports = {'P1': port('I1'), 'P2': port('I2')}
    m.rebuild(bridges, ports)
    del ports['P1']
    bridges['B1'] = bridge('br-int', 'P2')
    assert m.update(bridges, ports, ['B1'], ['P1']) == {'I1'}
    assert m.bridge_of('I1') is None and m.bridge_of('I2') == 'br-int'
    bridges['B1'] = bridge('br-new', 'P2')
    assert m.update(bridges, ports, ['B1'], []) == {'I2'}
    assert m.bridge_of('I2') == 'br-new'
    del bridges['B1']
    assert m.update(bridges, ports, ['B1'], []) == {'I2'}
    assert m.bridge_of('I2') is None


def test_unrelated_change_reports_nothing():
    m = Membership()
    bridges = {'B1': bridge('br-int', 'P1')}
    ports = {'P1': port('I1')}
    m.rebuild(bridges, ports)
    assert m.update(bridges, ports, ['B1'], ['P1']) == set()


def test_datapath_ids_follow_bridges_and_reject_bad_values():
    m = Membership()
    bridges = {'B1': dict(bridge('br-int'), datapath_id='00000a0b0c0d0e0f'),
               'B2': dict(bridge('br-ex'), datapath_id='not-hex\n' * 3),
               'B3': bridge('br-tun')}
    m.rebuild(bridges, {})
    assert m.datapath_ids == {'br-int': 0x0a0b0c0d0e0f}
    before = m.datapath_ids
    bridges['B2'] = dict(bridge('br-ex'), datapath_id='ffffffffffffffff')
    bridges['B1'] = dict(bridge('br-new'), datapath_id='00000a0b0c0d0e0f')
    m.update(bridges, {}, ['B1', 'B2'])
    assert m.datapath_ids == {'br-new': 0x0a0b0c0d0e0f,
                              'br-ex': 0xffffffffffffffff}
    assert before == {'br-int': 0x0a0b0c0d0e0f}  # never changed in place
    del bridges['B2']
    m.update(bridges, {}, ['B2'])
    assert m.datapath_ids == {'br-new': 0x0a0b0c0d0e0f}


def test_a_rebuild_without_bridges_forgets_their_datapath_ids():
    # A resync after every bridge was deleted while the agent was away.
    m = Membership()
    m.rebuild({'B1': dict(bridge('br-int', 'P1'),
                          datapath_id='00000a0b0c0d0e0f')}, {'P1': port('I1')})
    assert m.datapath_ids == {'br-int': 0x0a0b0c0d0e0f}
    m.rebuild_from({}, {})
    assert m.datapath_ids == {}
    assert m.bridge_of('I1') is None


def test_rebuild_from_the_interfaces_column_equals_rebuild():
    bridges = {'B1': bridge('br-int', 'P1', 'P2'), 'B2': bridge('br-ex', 'P3')}
    ports = {'P1': port('I1'), 'P2': port('I2', 'I3'), 'P3': port('I4'),
             'P9': port('I9')}
    whole, columns = Membership(), Membership()
    whole.rebuild(bridges, ports)
    columns.rebuild(bridges, {'P0': port('I0')})  # replaced entirely
    columns.rebuild_from(bridges, {uuid: list(row['interfaces'])
                                   for uuid, row in ports.items()})
    ifaces = ['I0', 'I1', 'I2', 'I3', 'I4', 'I9', 'nope']
    assert [columns.bridge_of(i) for i in ifaces] == [
        whole.bridge_of(i) for i in ifaces] == [
        None, 'br-int', 'br-int', 'br-int', 'br-ex', None, None]
    # Followed the same way afterwards.
    ports['P9'] = port('I9')
    bridges['B2'] = bridge('br-ex', 'P3', 'P9')
    assert whole.update(bridges, ports, ['B2'], []) == \
        columns.update(bridges, ports, ['B2'], []) == {'I9'}
    assert columns.bridge_of('I9') == 'br-ex'


def test_bridges_of_agrees_with_bridge_of():
    m = Membership()
    # I2 is listed by two ports: the one listed later wins, both ways.
    m.rebuild({'B1': bridge('br-int', 'P1', 'P2'),
               'B2': bridge('br-ex', 'P3')},
              {'P1': port('I1', 'I2'), 'P2': port(), 'P3': port('I2', 'I3'),
               'P9': port('I9')})
    ifaces = ['I1', 'I2', 'I3', 'I9', 'nope', 'I1']
    assert list(m.bridges_of(ifaces)) == [m.bridge_of(i) for i in ifaces]
    assert list(m.bridges_of(ifaces)) == [
        'br-int', 'br-ex', 'br-ex', None, None, 'br-int']
    assert list(m.bridges_of([])) == []


def _state(m):
    return (m._bridge_name, m._bridge_ports, m._port_bridge,
            m._port_ifaces, m._iface_port, m._bridge_dpid, m.datapath_ids)


@pytest.mark.parametrize('seed', range(20))
def test_rebuild_equals_following_every_row_from_empty(seed):
    """A rebuild (Bridge rows adopted in bulk) leaves the same indexes
    as update() following every row from nothing, ports shared between
    bridges and interfaces shared between ports included.
    """
    rnd = random.Random(seed)
    # Even seeds: one interface per port (VM ports), shared or not.
    sizes = (lambda: 1) if seed % 2 == 0 else (lambda: rnd.randrange(3))
    ports = {'P%d' % i: port(*('I%d' % rnd.randrange(30)
                               for _ in range(sizes())))
             for i in range(rnd.randrange(1, 25))}
    bridges = {}
    for i in range(rnd.randrange(5)):
        row = bridge('br%d' % rnd.randrange(3),
                     *rnd.sample(sorted(ports), min(len(ports), 8)))
        row['datapath_id'] = rnd.choice(
            ['%016x' % i, 'bad', None, '00000000000000ff'])
        bridges['B%d' % i] = row
    rebuilt, followed = Membership(), Membership()
    rebuilt.rebuild_from(bridges, {u: r['interfaces']
                                   for u, r in ports.items()})
    followed.update(bridges, ports, bridges, ports)
    assert _state(rebuilt) == _state(followed)
