"""Small hermes-webui-API lifecycles, one sound and several deliberately racy.

``core.HermesLifecycle`` follows the shell's pattern (feed an event to the
model's ``step_session`` under one lock, call the provider outside it) and
takes flags that each introduce one classic concurrency flaw. Each module here
builds one instance at import and exposes the hermes-webui functions, so the
interleaving explorer can load it like any third-party module.
"""
