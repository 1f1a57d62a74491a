"""People and what they say: profiles, statuses of every kind, follows, blocks and mutes,
timelines, notifications, search and reports (docs/architecture.md). Knows nothing of courses."""
