"""Golden byte vectors of the wire protocol, one directory per protocol version (see README.md)."""
