"""Transport: actor keys in the database, the SSRF-guarded signed HTTP client, fetching remote objects, the delivery queue, signature checks of incoming requests, blocks."""
