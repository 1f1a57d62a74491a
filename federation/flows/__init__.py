"""Flows: what the course world does on the fediverse — local actors, follows, forks, cohorts, posts, announcements, the mail-fediverse bridge, moderation tools."""
