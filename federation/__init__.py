"""Mechanical MOOC: federation."""
