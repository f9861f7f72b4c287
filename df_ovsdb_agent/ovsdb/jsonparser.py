"""Which JSON parser python-ovs uses, and a self-test of the C one.

python-ovs parses every byte from ovsdb-server with ``ovs.json.Parser``,
which is ``ovs._json`` (C) when that extension imports and pure Python
otherwise; the C one makes the initial sync several times faster.  The PyPI
wheel ships no extension; ``tools/install-ovs-cjson.sh`` adds one and runs
``python -m df_ovsdb_agent.ovsdb.jsonparser --check`` to prove it parses
exactly like the pure-Python parser before leaving it in place.
"""

import sys
from typing import Any

import ovs.json

C = ovs.json.PARSER_C
PYTHON = ovs.json.PARSER_PY

# Inputs that exercise what OVSDB sends: nesting, escapes, non-ASCII,
# integers beyond 32 bits, reals, and several messages back to back.
SAMPLES = (
    '{"id":1,"result":[{"rows":[{"_uuid":["uuid",'
    '"0b6e8e5b-7c1c-4f5e-9d1a-6f2b0e7b3c11"],"ofport":65534,'
    '"external_ids":["map",[["iface-id","a\\"b\\\\c\\u00e9\\ud83d\\ude00"]'
    ',["x","\\n\\t/"]]],"stats":["map",[["rx_bytes",12345678901234]]],'
    '"load":0.25,"neg":-3,"exp":1.5e3,"set":["set",[]],"t":true,'
    '"f":false,"n":null}]}],"error":null}',
    '{"method":"update3","params":["mon",'
    '"00000000-0000-0000-0000-000000000000",{"Interface":{}}],'
    '"id":null}',
    '{"method":"echo","params":[],"id":"echo"} {"k":"\u00fcnic\u00f8de"}',
)


def active() -> str:
    """The parser python-ovs uses in this process: "C" or "PYTHON"."""
    return ovs.json.PARSER


def _parse_all(text: str, parser_kind: str, chunk: int) -> list[Any]:
    """Parse back-to-back JSON values fed in ``chunk``-sized pieces, the
    way ``ovs.jsonrpc.Connection.recv`` feeds them."""
    saved = ovs.json.PARSER
    ovs.json.PARSER = parser_kind
    try:
        values, parser, buf = [], ovs.json.Parser(), ''
        for start in range(0, len(text), chunk):
            buf += text[start:start + chunk]
            while buf:
                if parser_kind == C:  # C counts UTF-8 bytes consumed
                    buf = buf.encode()[parser.feed(buf):].decode()
                else:
                    buf = buf[parser.feed(buf):]
                if not parser.is_done():
                    break
                values.append(parser.finish())
                parser = ovs.json.Parser()
        return values
    finally:
        ovs.json.PARSER = saved


def self_test() -> None:
    """Raise AssertionError unless the C parser matches the Python one."""
    if active() != C:
        raise AssertionError('ovs._json is not importable')
    for text in SAMPLES:
        expected = _parse_all(text, PYTHON, len(text))
        for chunk in (1, 7, 4096):
            got = _parse_all(text, C, chunk)
            if got != expected:
                raise AssertionError('C parser disagrees on %r (chunk %d)'
                                     % (text[:40], chunk))


def main() -> int:
    if sys.argv[1:] == ['--check']:
        try:
            self_test()
        except AssertionError as exc:
            print('JSON parser: PYTHON (%s)' % exc)
            return 1
    print('JSON parser: %s' % active())
    return 0


if __name__ == '__main__':
    sys.exit(main())
