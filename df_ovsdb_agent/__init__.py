"""df-ovsdb-agent: one OVSDB monitor session, typed interface events."""

import warnings

# python-ovs imports eventlet whenever it is installed (it is, for the
# daemon), and eventlet >= 0.41 then warns about its own deprecation.  That
# warning is about eventlet, not about anything a user of this package can
# act on; hide exactly that message and nothing else.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
