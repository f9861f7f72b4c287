"""df-ovsdb-agent: one OVSDB monitor session, typed interface events."""

from importlib import metadata
import warnings

# python-ovs imports eventlet whenever it is installed (the optional
# ``eventlet`` extra), and eventlet >= 0.41 then warns about its own
# deprecation.  That warning is about eventlet, not about anything a user of
# this package can act on; hide exactly that message and nothing else.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
# Likewise eventlet imports dnspython, which warns about cryptography's DSA
# deprecation whenever cryptography is installed (os-ken brings it in).
warnings.filterwarnings('ignore', message=r'DSA is deprecated')

try:
    # setup.cfg's version, as installed (pbr adds .devN between releases).
    __version__ = metadata.version('df-ovsdb-agent')
except metadata.PackageNotFoundError:  # a bare source tree on sys.path
    __version__ = '0+unknown'
