import pytest

from df_ovsdb_agent.classifier import classify
from df_ovsdb_agent.classifier import InterfaceRows
from df_ovsdb_agent.classifier import keep_ephemeral
from df_ovsdb_agent.classifier import online
from df_ovsdb_agent.classifier import Policy
from df_ovsdb_agent.classifier import RowValues
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import Kind

POLICY = Policy()


def row(name='p', type='', ofport=5, external_ids=None, options=None):
    return RowValues('u-' + name, name, type, ofport, external_ids or {},
                     options or {})


VM_IDS = {'iface-id': 'port-1', 'attached-mac': 'fa:16:3e:00:00:01'}

CASES = [
    # (description, row, expected kind or None)
    ('bridge br-int', row('br-int', 'internal', 65534), Kind.BRIDGE),
    ('bridge br-tun', row('br-tun', 'internal'), Kind.BRIDGE),
    ('bridge br-ex', row('br-ex', 'internal'), Kind.BRIDGE),
    ('bridge name but not internal', row('br-int', ''), None),
    ('internal, name not configured', row('br-foo', 'internal'), None),
    ('substring of a bridge name', row('br-int2', 'internal'), None),
    ('bridge name as substring', row('xbr-int', 'internal'), None),
    ('vm with iface-id', row('tap1', '', external_ids=VM_IDS), Kind.VM),
    ('vm keyed on iface-id, not tap prefix',
     row('vm-port', '', external_ids=VM_IDS), Kind.VM),
    ('internal port with iface-id is a vm',
     row('ha-1', 'internal', external_ids=VM_IDS), Kind.VM),
    ('tap name without iface-id', row('tap1', ''), None),
    ('empty iface-id', row('tap1', '', external_ids={'iface-id': ''}), None),
    ('other external_ids only',
     row('tap1', '', external_ids={'attached-mac': 'fa:16:3e:0:0:1'}), None),
    ('vxlan tunnel', row('vx', 'vxlan', options={'remote_ip': '192.0.2.1'}),
     Kind.TUNNEL),
    ('geneve tunnel', row('gn', 'geneve', options={'remote_ip': 'flow'}),
     Kind.TUNNEL),
    ('gre tunnel', row('gr', 'gre', options={'remote_ip': '192.0.2.9'}),
     Kind.TUNNEL),
    ('tunnel without remote_ip', row('vx', 'vxlan'), None),
    ('tunnel with empty remote_ip',
     row('vx', 'vxlan', options={'remote_ip': ''}), None),
    ('remote_ip on a non-tunnel type',
     row('x', 'system', options={'remote_ip': '192.0.2.1'}), None),
    ('tunnel with iface-id is still a tunnel',
     row('vx', 'vxlan', external_ids=VM_IDS,
         options={'remote_ip': '192.0.2.1'}), Kind.TUNNEL),
    ('patch with peer', row('p', 'patch', options={'peer': 'q'}), Kind.PATCH),
    ('patch without peer', row('p', 'patch'), None),
    ('patch without peer but iface-id',
     row('p', 'patch', external_ids=VM_IDS), None),
    ('vm without ofport yet', row('tap1', '', None, VM_IDS), None),
    ('vm with ofport 0', row('tap1', '', 0, VM_IDS), None),
    ('vm OVS failed to add (ofport -1)', row('tap1', '', -1, VM_IDS), None),
    ('bridge with ofport -1', row('br-int', 'internal', -1), None),
    ('plain system port', row('eth0', 'system'), None),
]


@pytest.mark.parametrize('desc,values,kind', CASES, ids=[c[0] for c in CASES])
def test_classify_table(desc, values, kind):
    result = classify(values, POLICY)
    assert (result.kind if result else None) == kind


def test_vm_attributes():
    result = classify(row('tap1', '', 7, VM_IDS), POLICY)
    assert result == Interface(Kind.VM, 'tap1', 'u-tap1', 7,
                               iface_id='port-1',
                               attached_mac='fa:16:3e:00:00:01')


def test_tunnel_attributes():
    result = classify(row('vx', 'gre', 3, options={
        'remote_ip': '192.0.2.1', 'local_ip': '192.0.2.2', 'key': 'flow'}),
        POLICY)
    assert (result.tunnel_type, result.remote_ip, result.local_ip) == (
        'gre', '192.0.2.1', '192.0.2.2')


def test_configured_bridge_names_and_tunnel_types():
    policy = Policy(bridge_names=frozenset(['br-prv']),
                    tunnel_types=frozenset(['vxlan']))
    assert classify(row('br-prv', 'internal'), policy).kind == Kind.BRIDGE
    assert classify(row('br-int', 'internal'), policy) is None
    assert classify(row('g', 'gre', options={'remote_ip': '1.1.1.1'}),
                    policy) is None


def test_require_ofport_off():
    policy = Policy(require_ofport=False)
    assert classify(row('tap1', '', None, VM_IDS), policy).kind == Kind.VM
    assert classify(row('tap1', '', -1, VM_IDS), policy) is None


def on(bridge, values):
    return values._replace(bridge=bridge)


VM_BRIDGES = Policy(vm_bridges=frozenset(['br-int']))


@pytest.mark.parametrize('desc,values,kind', [
    ('vm on the integration bridge', on('br-int', row('t', '', 1, VM_IDS)),
     Kind.VM),
    ('vm on another bridge', on('br-ex', row('t', '', 1, VM_IDS)), None),
    ('vm on no bridge', row('t', '', 1, VM_IDS), None),
    ('tunnel on another bridge', on('br-tun', row(
        'vx', 'vxlan', options={'remote_ip': '192.0.2.1'})), Kind.TUNNEL),
    ('patch on another bridge', on('br-ex', row(
        'p', 'patch', options={'peer': 'q'})), Kind.PATCH),
    ('bridge port of another bridge', on('br-ex', row('br-ex', 'internal')),
     Kind.BRIDGE),
], ids=lambda v: v if isinstance(v, str) else '')
def test_vm_bridges_limit_only_vm_ports(desc, values, kind):
    result = classify(values, VM_BRIDGES)
    assert (result.kind if result else None) == kind
    # Without vm_bridges every bridge holds VM ports (the default).
    assert classify(values, POLICY).kind == (kind or Kind.VM)


def test_link_admin_mac_and_bridge_reach_the_interface():
    values = row('tap1', '', 7, VM_IDS)._replace(
        bridge='br-int', mac_in_use='fa:16:3e:00:00:02', link_state='up',
        admin_state='down')
    result = classify(values, POLICY)
    assert (result.bridge, result.mac_in_use, result.link_state,
            result.admin_state) == ('br-int', 'fa:16:3e:00:00:02', 'up',
                                    'down')
    patch = classify(row('p', 'patch', options={'peer': 'q'})._replace(
        link_state='down', admin_state='up', mac_in_use='x'), POLICY)
    # Only the kind's own attributes: a patch port has no admin state or MAC.
    assert (patch.link_state, patch.admin_state, patch.mac_in_use) == (
        'down', None, None)
    bridge = classify(row('br-int', 'internal')._replace(
        bridge='br-int', link_state='up'), POLICY)
    assert (bridge.bridge, bridge.link_state) == ('br-int', None)


def test_keep_ephemeral_bridges_an_ovsdb_restart():
    up = classify(row('tap1', '', 7, VM_IDS)._replace(
        mac_in_use='m', link_state='up', admin_state='up'), POLICY)
    emptied = classify(row('tap1', '', 7, VM_IDS), POLICY)
    assert keep_ephemeral(up, emptied) == up
    down = classify(row('tap1', '', 7, VM_IDS)._replace(
        mac_in_use='m', link_state='down', admin_state='up'), POLICY)
    assert keep_ephemeral(up, down) == down
    # Another interface under the same uuid, or none before: untouched.
    assert keep_ephemeral(None, emptied) == emptied
    other = classify(row('tap1', 'patch', 7, options={'peer': 'x'}), POLICY)
    assert keep_ephemeral(up, other) == other


def test_columns_and_ephemeral_attributes_are_the_tables_declaration():
    import dataclasses

    from df_ovsdb_agent.classifier import COLUMNS
    from df_ovsdb_agent.classifier import EPHEMERAL
    from df_ovsdb_agent.ovsdb.tables import BY_NAME
    assert COLUMNS == BY_NAME['Interface'].columns
    assert EPHEMERAL == BY_NAME['Interface'].optional
    # keep_ephemeral reads them as Interface attributes of the same name.
    attributes = {f.name for f in dataclasses.fields(Interface)}
    assert set(EPHEMERAL) <= attributes


@pytest.mark.parametrize('policy', [POLICY, Policy(require_ofport=False),
                                    Policy(vm_bridges=frozenset({'br-x'}))],
                         ids=['default', 'no-ofport-needed', 'vm-bridges'])
def test_online_is_classify_on_every_row(policy):
    # The first sync's one-loop path gives what classify() row by row does.
    rows = [values._replace(uuid='u%d' % i, bridge='br-x' if i % 2 else
                            'br-int')
            for i, (_, values, _) in enumerate(CASES)]
    expected = {r.uuid: classify(r, policy) for r in rows}
    result = online(rows, policy)
    assert result == {uuid: i for uuid, i in expected.items()
                      if i is not None}
    assert list(result) == [uuid for uuid, i in expected.items()
                            if i is not None]
    assert len(result) > 5


def _random_rows(rng, count):
    """Rows drawn from the values each branch of classify() looks at."""
    for i in range(count):
        ids = {}
        if rng.random() < 0.7:
            ids['iface-id'] = rng.choice(['port-%d' % i, ''])
        if rng.random() < 0.5:
            ids['attached-mac'] = 'fa:16:3e:00:00:%02x' % (i % 256)
        options = {}
        if rng.random() < 0.4:
            options[rng.choice(['peer', 'remote_ip'])] = rng.choice(
                ['', 'q', '192.0.2.1'])
        yield RowValues(
            'u%d' % i,
            rng.choice(['tap%d' % i, 'br-int', 'br-tun', 'eth0']),
            rng.choice(['', '', '', 'system', 'internal', 'patch', 'vxlan',
                        'geneve', 'dpdkvhostuserclient', 'tap']),
            rng.choice([None, -1, 0, 1, i + 1, 65534]), ids, options,
            rng.choice([None, 'fa:16:3e:00:00:01']),
            rng.choice([None, 'up', 'down']), rng.choice([None, 'up']),
            rng.choice([None, 'br-int', 'br-x']))


@pytest.mark.parametrize('seed', range(30))
def test_online_vm_shortcut_is_classify(seed):
    # online() builds the VM rows of the default policy in its loop, not
    # through classify(): same interfaces (every attribute, the exact
    # class), same order, on random rows and policies.
    import random
    rng = random.Random(seed)
    policy = rng.choice([
        POLICY, Policy(require_ofport=False),
        Policy(vm_bridges=frozenset({'br-x'})),
        Policy(tunnel_types=frozenset({'vxlan', ''}),
               bridge_names=frozenset({'br-int', 'eth0'}))])
    rows = list(_random_rows(rng, 300))
    expected = [(r.uuid, i) for r in rows
                if (i := classify(r, policy)) is not None]
    result = online(rows, policy)
    assert list(result.items()) == expected
    assert {type(i) for i in result.values()} <= {Interface}
    for interface in result.values():
        # Frozen as any Interface: the twin class is gone.
        with pytest.raises(AttributeError):
            interface.name = 'x'
    assert sum(i.kind is Kind.VM for _, i in expected) > 5


# -- InterfaceRows: a sync's rows as the replica holds them -----------------

def _parts(rows, pad):
    """``rows`` as InterfaceRows' three sequences, the last ``pad``
    optional columns cut from the stored values (a server without them).
    """
    width = len(RowValues._fields) - 2 - pad
    return ([r.uuid for r in rows], [tuple(r[1:1 + width]) for r in rows],
            [r.bridge for r in rows])


def _padded(rows, pad):
    """What InterfaceRows must iterate as: the cut columns None."""
    keep = len(RowValues._fields) - 1 - pad
    return [RowValues(*r[:keep], *(None,) * pad, r.bridge) for r in rows]


@pytest.mark.parametrize('pad', range(4))
def test_interface_rows_iterate_as_row_values(pad):
    import random
    rows = list(_random_rows(random.Random(pad), 200))
    parts = InterfaceRows(*_parts(rows, pad), pad=pad)
    expected = _padded(rows, pad)
    assert len(parts) == len(rows)
    assert list(parts) == expected
    # Any number of times, each one a RowValues (not only a tuple).
    assert list(parts) == expected
    assert {type(r) for r in parts} == {RowValues}
    assert list(InterfaceRows([], [], [], pad)) == []


@pytest.mark.parametrize('seed', range(30))
def test_online_of_interface_rows_is_online_of_row_values(seed):
    # online() walks InterfaceRows' stored rows where they are: the same
    # interfaces (every attribute, the class), in the same order, as from
    # the RowValues they iterate as, under every policy and pad.
    import random
    rng = random.Random(seed)
    policy = rng.choice([
        POLICY, POLICY, Policy(require_ofport=False),
        Policy(vm_bridges=frozenset({'br-x'})),
        Policy(tunnel_types=frozenset({'vxlan', ''}),
               bridge_names=frozenset({'br-int', 'eth0'}))])
    pad = rng.choice([0, 0, 1, 3])
    rows = _padded(list(_random_rows(rng, 300)), pad)
    expected = online(rows, policy)
    result = online(InterfaceRows(*_parts(rows, pad), pad=pad), policy)
    assert list(result.items()) == list(expected.items())
    assert {type(i) for i in result.values()} <= {Interface}
    for interface in result.values():
        with pytest.raises(AttributeError):
            interface.name = 'x'
    assert sum(i.kind is Kind.VM for i in expected.values()) > 5


def test_interface_rows_hostile_shapes():
    # Sequences of different lengths or a pad past the optional columns:
    # refused at once, not a silently short sync.
    with pytest.raises(ValueError):
        InterfaceRows(['u1'], [], [None])
    with pytest.raises(ValueError):
        InterfaceRows(['u1'], [('n', '', 1, {}, {})], [])
    for pad in (-1, 9):
        with pytest.raises(ValueError):
            InterfaceRows([], [], [], pad)
    # A stored row of the wrong width fails as the RowValues it makes
    # fails in online(): a ValueError from the unpacking, both ways.
    bad = InterfaceRows(['u1'], [('tap1', '', 3, {'iface-id': 'p'}, {})],
                        ['br-int'])
    with pytest.raises(ValueError):
        online(list(bad), POLICY)
    with pytest.raises(ValueError):
        online(bad, POLICY)
