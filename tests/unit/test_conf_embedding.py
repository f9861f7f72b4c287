"""The agent's options inside a host program's configuration."""

from oslo_config import cfg

from df_ovsdb_agent import conf as conf_lib


def test_a_host_programs_own_host_option_is_kept_and_used():
    conf = cfg.ConfigOpts()
    # neutron's agents register a host option of their own, differently.
    conf.register_opts([cfg.StrOpt('host', default='neutron-host',
                                   help='theirs')])
    conf_lib.register_opts(conf)   # no DuplicateOptError
    conf([])
    assert conf.host == 'neutron-host'
    assert conf.ovsdb.timeout == 10.0


def test_from_files_reads_the_host_programs_files_privately(tmp_path):
    path = tmp_path / 'controller.conf'
    path.write_text('[DEFAULT]\nhost = hv1\nofp_listen_host = 127.0.0.1\n'
                    '[ovsdb]\nconnection = tcp:127.0.0.1:1\n'
                    '[agent]\nvm_bridges = br-int\n')
    host_conf = cfg.ConfigOpts()
    # The host program's own [ovsdb] group, with another option in it.
    host_conf.register_opts([cfg.StrOpt('connection', default='theirs'),
                             cfg.IntOpt('timeout', default=3)],
                            group='ovsdb')
    host_conf(['--config-file', str(path)])
    ours = conf_lib.from_files(host_conf.config_file)
    assert ours.host == 'hv1'
    assert conf_lib.ovsdb_settings(ours).connection == 'tcp:127.0.0.1:1'
    assert conf_lib.ovsdb_settings(ours).timeout == 10.0
    assert conf_lib.policy(ours).vm_bridges == {'br-int'}
    assert host_conf.ovsdb.timeout == 3   # theirs untouched
