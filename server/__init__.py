"""Mechanical MOOC: server."""
