"""The floor of the server: what every package stands on (settings, database, clock, events, queue, jobs, errors, URLs, accounts). It imports nothing of ours."""
