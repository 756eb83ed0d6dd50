"""The Signal channel: a signal-cli daemon in JSON-RPC mode, reached over TCP."""
