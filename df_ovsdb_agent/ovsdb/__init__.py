"""The OVSDB read path: remotes, schema, the JSON-RPC monitor client, the
replica and the monitor thread."""
