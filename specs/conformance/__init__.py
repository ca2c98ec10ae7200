"""The conformance suite: check any implementation of the lifecycle API.

``memory-lifecycle conform TARGET`` (``cli``) loads TARGET afresh for every
check (``target``, which also documents the adapter contract), runs the
fault-injection probes (``probes``), the Hypothesis stateful comparison with
the model (``memory_lifecycle.specs.stateful``) and the interleaving
explorer's scenarios, and reports a verdict per property (``runner``,
``report``). ``pytest_plugin`` offers the same as pytest items;
``native_adapter`` is the example adapter for ``SessionLifecycle``.
"""
