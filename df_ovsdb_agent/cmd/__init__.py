"""Console entry points: the only code that reads a global ConfigOpts."""

import warnings

# python-ovs imports eventlet whenever it is installed, and eventlet 0.41
# warns about its own deprecation on import; that warning is about eventlet,
# not about anything an operator of this agent can act on.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
