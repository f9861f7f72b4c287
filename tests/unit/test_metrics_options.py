"""``[metrics] host``: oslo.config's IPOpt, whose known addresses (its
default among them) are checked without netaddr, and every other value by
netaddr exactly as oslo.config's own type does.
"""

import pytest

from oslo_config import cfg
from oslo_config import types

from df_ovsdb_agent import metrics

VALUES = sorted(metrics.KNOWN_ADDRESSES) + [
    '10.0.0.1', 'fe80::1', '::ffff:127.0.0.1', '127.1', '127.0.0.01',
    '0.0.0.0 ', ' ::1', '1.2.3.4.5', 'localhost', 'not-an-ip', '', '::1%lo',
    '256.0.0.1']


def _outcome(kind, value):
    try:
        return 'ok', kind(value)
    except ValueError:
        return 'ValueError', None


@pytest.mark.parametrize('value', VALUES)
def test_same_answers_as_oslo_config_type(value):
    assert _outcome(metrics.IPAddress(), value) == \
        _outcome(types.IPAddress(), value)


def test_known_addresses_are_valid_for_oslo_config():
    for address in metrics.KNOWN_ADDRESSES:
        assert types.IPAddress()(address) == address


def test_host_option_is_an_ip_opt_with_its_default():
    opt = {o.dest: o for o in metrics.METRICS_OPTS}['host']
    # The configuration reference names the type by the option's class.
    assert type(opt) is cfg.IPOpt
    assert isinstance(opt.type, types.IPAddress)
    assert opt.type.type_name == types.IPAddress().type_name
    conf = cfg.ConfigOpts()
    conf.register_opts(metrics.METRICS_OPTS, group='metrics')
    conf([], default_config_files=[])
    assert conf.metrics.host == metrics.DEFAULT_HOST


@pytest.mark.parametrize('value,valid', [
    ('::1', True), ('192.0.2.7', True), ('192.0.2.300', False),
    ('example.org', False)])
def test_configured_host_is_checked(tmp_path, value, valid):
    path = tmp_path / 'a.conf'
    path.write_text('[metrics]\nhost = %s\n' % value)
    conf = cfg.ConfigOpts()
    conf.register_opts(metrics.METRICS_OPTS, group='metrics')
    conf(['--config-file', str(path)], default_config_files=[])
    if valid:
        assert conf.metrics.host == value
    else:
        with pytest.raises(ValueError):
            conf.metrics.host
