"""Implementations of the hermes-webui API for the differential comparison's own tests.

``baseline`` behaves as the published module does; each other module loads
its source and changes one function, in a way a declared divergence allows or
in a way none does.
"""
