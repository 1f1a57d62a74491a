"""What the community pages share: the viewer's profile, statuses as cards, id cursors, handles."""
