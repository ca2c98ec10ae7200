"""Explicit-state model checker over ``model.step``."""
