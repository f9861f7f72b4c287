"""The public value types: Interface's hand-written constructor agrees
with its declared fields, and the values stay immutable and comparable."""

import dataclasses
import inspect
import pickle

import pytest

from df_ovsdb_agent.events import Action
from df_ovsdb_agent.events import ATTRIBUTES
from df_ovsdb_agent.events import changed_attributes
from df_ovsdb_agent.events import Interface
from df_ovsdb_agent.events import InterfaceEvent
from df_ovsdb_agent.events import Kind
from df_ovsdb_agent.events import online_event
from df_ovsdb_agent.events import vm_interface


def test_constructor_takes_the_fields_in_order_with_their_defaults():
    params = list(inspect.signature(Interface).parameters.values())
    fields = dataclasses.fields(Interface)
    assert [p.name for p in params] == [f.name for f in fields]
    assert [p.default for p in params] == [
        inspect.Parameter.empty if f.default is dataclasses.MISSING
        else f.default for f in fields]
    assert ATTRIBUTES == tuple(f.name for f in fields)


def test_constructor_sets_every_field():
    values = {f.name: 'v-' + f.name for f in dataclasses.fields(Interface)}
    by_position = Interface(*values.values())
    by_name = Interface(**values)
    assert by_position == by_name
    assert {name: getattr(by_name, name) for name in values} == values
    assert dataclasses.replace(by_name, ofport=3).ofport == 3


def test_values_are_immutable_hashable_and_picklable():
    vm = Interface(Kind.VM, 'tap1', 'u1', 1, iface_id='x')
    event = InterfaceEvent(Action.ONLINE, vm)
    with pytest.raises(dataclasses.FrozenInstanceError):
        vm.ofport = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.action = Action.OFFLINE
    assert len({vm, Interface(Kind.VM, 'tap1', 'u1', 1, iface_id='x')}) == 1
    assert vm != Interface(Kind.VM, 'tap1', 'u1', 2, iface_id='x')
    assert pickle.loads(pickle.dumps(event)) == event


def test_changed_attributes_names_every_difference():
    old = Interface(Kind.VM, 'tap1', 'u1', 1, iface_id='x')
    new = dataclasses.replace(old, ofport=2, link_state='up')
    assert changed_attributes(old, new) == {'ofport', 'link_state'}
    assert changed_attributes(old, old) == frozenset()
    assert changed_attributes(None, new) == frozenset()


def test_constructed_values_are_exactly_the_public_frozen_types():
    # The constructors fill a mutable twin and turn it back: what comes
    # out must be the public class, frozen, equal to a copy of itself.
    vm = Interface(Kind.VM, 'tap1', 'u1', 1, 'br-int', 'x')
    event = InterfaceEvent(Action.UPDATED, vm, frozenset({'ofport'}))
    assert type(vm) is Interface and type(event) is InterfaceEvent
    assert event.changed == {'ofport'}
    assert InterfaceEvent(Action.ONLINE, vm).changed == frozenset()
    for value, attr in ((vm, 'name'), (event, 'interface')):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, attr, None)
    assert dataclasses.replace(vm) == vm and type(
        dataclasses.replace(vm)) is Interface
    assert pickle.loads(pickle.dumps(vm)) == vm
    assert repr(vm).startswith('Interface(kind=<Kind.VM')


def test_fast_constructors_make_what_the_public_ones_make():
    attrs = ('tap1', 'u1', 3, 'br-int', 'port-1', 'fa:16:3e:00:00:01',
             'fa:16:3e:00:00:02', 'up', 'down')
    vm = vm_interface(*attrs)
    assert type(vm) is Interface
    assert vm == Interface(Kind.VM, *attrs)
    assert hash(vm) == hash(Interface(Kind.VM, *attrs))
    assert (vm.tunnel_type, vm.remote_ip, vm.local_ip, vm.peer) == (
        None,) * 4
    event = online_event(vm)
    assert type(event) is InterfaceEvent
    assert event == InterfaceEvent(Action.ONLINE, vm)
    assert event.changed == frozenset()
    with pytest.raises(dataclasses.FrozenInstanceError):
        vm.ofport = 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.action = Action.OFFLINE


def test_subclasses_keep_their_class_and_values():
    # The fast constructors turn a twin back into the public class: a
    # subclass (with or without slots of its own) must stay itself.
    class Tagged(Interface):
        pass

    @dataclasses.dataclass(frozen=True, slots=True, init=False)
    class Slotted(InterfaceEvent):
        pass

    vm = Tagged(Kind.VM, 'tap1', 'u1', 1, 'br-int', 'x')
    assert type(vm) is Tagged
    assert (vm.name, vm.bridge, vm.iface_id, vm.peer) == (
        'tap1', 'br-int', 'x', None)
    event = Slotted(Action.ONLINE, vm)
    assert type(event) is Slotted
    assert (event.action, event.interface, event.changed) == (
        Action.ONLINE, vm, frozenset())
