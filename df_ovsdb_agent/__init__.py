"""df-ovsdb-agent: one OVSDB monitor session, typed interface events."""

import warnings

# python-ovs imports eventlet whenever it is installed (the optional
# ``eventlet`` extra), and eventlet >= 0.41 then warns about its own
# deprecation.  That warning is about eventlet, not about anything a user of
# this package can act on; hide exactly that message and nothing else.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
# Likewise eventlet imports dnspython, which warns about cryptography's DSA
# deprecation whenever cryptography is installed (os-ken brings it in).
warnings.filterwarnings('ignore', message=r'DSA is deprecated')

_version = None


def __getattr__(name: str) -> str:
    # __version__ is looked up on first use: importlib.metadata costs a
    # third of a command's start-up (doc/source/cli.rst, start-up).
    global _version
    if name != '__version__':
        raise AttributeError('module %r has no attribute %r'
                             % (__name__, name))
    if _version is None:
        from importlib import metadata
        try:
            # setup.cfg's version, as installed (pbr adds .devN between
            # releases).
            _version = metadata.version('df-ovsdb-agent')
        except metadata.PackageNotFoundError:  # a bare source tree
            _version = '0+unknown'
    return _version
