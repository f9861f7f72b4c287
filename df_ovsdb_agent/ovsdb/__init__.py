"""The OVSDB side: remotes, schema, the pruned IDL and its connection."""
