"""Mechanical MOOC: web."""
