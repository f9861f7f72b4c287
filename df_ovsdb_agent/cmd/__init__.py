"""Console entry points: the only code that reads a global ConfigOpts.

Importing this package defers the bodies of a few third-party modules that
oslo.config and oslo.log import at module level but the commands use late
or never (see :data:`DEFERRED`): start-up time is mostly imports, and with
them deferred ``import oslo_config.cfg`` took 55 ms instead of 126 ms here
(doc/source/cli.rst, start-up).
"""

import sys
import types

# oslo.config's option types import rfc3986 (URIOpt) and netaddr (IPOpt,
# HostAddressOpt); oslo_config.cfg imports stevedore (config drivers, which
# we do not use; our plugin loader imports it when plugins are configured);
# oslo_log.log imports debtcollector (for deprecation warnings) and its
# formatters oslo_serialization.jsonutils (for JSON log lines).  Each body
# runs when one of its attributes is first read: a value of such a type
# parsed, a plugin loaded, a JSON log line formatted.
# The daemon's path to its first OVSDB connection (issue 19; instructions
# counted by callgrind from exec to the connect(), wheel install, 471 M
# before): oslo_log's formatters import dateutil.tz, whose body runs at the
# first log line, and its _tzdata_impl (importlib.resources, pathlib,
# tempfile: with netaddr's, -9%) and calendar, only for named zones, win
# (ctypes) only on Windows; oslo_log imports logging.config,
# logging.handlers (pickle, queue, socketserver) and configparser for a
# log_config_append file or a log_file; oslo_context imports uuid (with
# platform) for request ids; oslo_config pickle to copy a namespace;
# traceback textwrap to print one; the read path ssl for ssl: remotes
# (-6%: its body runs in the monitor thread's first read).
DEFERRED = ('rfc3986', 'netaddr', 'stevedore', 'debtcollector',
            'oslo_serialization.jsonutils', 'dateutil.tz',
            'dateutil._tzdata_impl', 'calendar', 'ctypes', 'logging.config',
            'logging.handlers', 'configparser', 'uuid', 'pickle', 'textwrap',
            'ssl')

# What the import system reads from a module already in sys.modules: it
# must not run the body (``import x`` of a deferred x would load it).
_METADATA = frozenset(('__spec__', '__name__', '__class__'))
_loading: set = set()
# Holds the one lock, made at the first body run: threading is not
# imported here (eventlet's entry point patches it after this package).
_lock: dict = {}


def _the_lock():
    lock = _lock.get('lock')
    if lock is None:
        import threading
        # Re-entrant: a module body may read another deferred module.
        # setdefault is atomic: racing threads end up with one lock.
        lock = _lock.setdefault('lock', threading.RLock())
    return lock


class _Deferred(types.ModuleType):
    """A module whose body runs on first attribute access, once, with
    other threads waiting for it (importlib.util.LazyLoader is neither
    thread-safe on Python < 3.12 nor deferred past an ``import`` of it).
    """

    def __getattribute__(self, attr: str):
        if attr in _METADATA:
            return object.__getattribute__(self, attr)
        _run_body(self)
        return object.__getattribute__(self, attr)

    def __setattr__(self, attr: str, value) -> None:
        # The body first: run later, it would undo what is set now (a
        # monkey-patch: eventlet's replaces ssl's classes).
        _run_body(self)
        object.__setattr__(self, attr, value)

    def __delattr__(self, attr: str) -> None:
        _run_body(self)
        object.__delattr__(self, attr)


def _run_body(module: types.ModuleType) -> None:
    """Run a deferred module's body unless it ran or is running."""
    get = object.__getattribute__
    with _the_lock():
        if type(module) is _Deferred and id(module) not in _loading:
            _loading.add(id(module))
            try:
                get(module, '__spec__').loader.exec_module(module)
                # Plain again: later reads cost nothing extra.
                object.__setattr__(module, '__class__', types.ModuleType)
            except BaseException:
                # As an eager import would: no half-run module left.
                sys.modules.pop(get(module, '__name__'), None)
                raise
            finally:
                _loading.discard(id(module))


# Loader and finder by their methods, not importlib.abc's classes: that
# module imports importlib.resources (pathlib, tempfile, zipfile...), ~10 ms.
class _DeferringLoader:
    """Wraps a module's own loader: the import makes a :class:`_Deferred`
    module, the first attribute read runs the body with the real loader.
    """

    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__.loader = self.loader  # type: ignore[union-attr]
        module.__loader__ = self.loader
        module.__class__ = _Deferred


class _Finder:
    """Finds the modules named (:data:`DEFERRED`) with the other finders
    and has them imported deferred.
    """

    def __init__(self, names: tuple) -> None:
        self.names = frozenset(names)

    def find_spec(self, name, path, target=None):
        if name not in self.names:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, 'find_spec', None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, 'exec_module'):
            spec.loader = _DeferringLoader(spec.loader)
        return spec


def loaded(name: str) -> bool:
    """Whether ``name`` is imported and its body has run."""
    module = sys.modules.get(name)
    return module is not None and type(module) is not _Deferred


if not any(isinstance(f, _Finder) for f in sys.meta_path):
    # Modules imported before this stay as they are.
    sys.meta_path.insert(0, _Finder(DEFERRED))
