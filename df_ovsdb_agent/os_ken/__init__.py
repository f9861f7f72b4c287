"""os-ken integration: the agent as an os-ken app, typed os-ken events,
a runner (``df-ovsdb-controller``) and an example L2 app.

Needs the ``os-ken`` extra: ``pip install 'df-ovsdb-agent[os-ken]'``.
"""
