"""Deterministic exploration of real thread schedules."""
