"""Small hermes-webui-API lifecycles, one sound and each of the others with one flaw.

``core.HermesLifecycle`` is self-contained (it does not use the project's
model): a sound implementation, plus flags that each introduce one flaw a
checker must find. Each module here builds one instance at import and exposes
the hermes-webui functions, so the checkers load it like any third-party
module. ``EXPECTED`` maps each variant to the property it breaks and the
check that finds it.
"""
