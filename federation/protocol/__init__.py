"""Protocol: ActivityStreams vocabulary, HTTP signatures, sanitizing, keys as data, unit text — pure functions on data, no database, no network."""
