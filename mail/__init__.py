"""Mechanical MOOC: mail."""
