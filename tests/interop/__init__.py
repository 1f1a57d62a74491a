"""Interop tests: an independent ActivityPub implementation (Fedify) against real instances."""
