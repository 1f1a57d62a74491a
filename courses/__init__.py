"""Mechanical MOOC: courses."""
