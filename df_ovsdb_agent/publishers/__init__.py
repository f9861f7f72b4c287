"""Publishers: mirror this host's interfaces into a shared store.

Loaded from the ``df_ovsdb_agent.publishers`` entry point namespace by the
names in ``[agent] publishers``; each reads its ``[publisher_<name>]``
group.  Built in: ``etcd`` (:mod:`.etcd`) and ``redis`` (:mod:`.redis`),
both on the machinery of :mod:`.base`.  Consumers of what they write live
in :mod:`df_ovsdb_agent.cluster`.
"""
