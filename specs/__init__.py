"""Executable specification: properties, abstract machine, checkers, conformance."""
