"""Small hermes-webui-API lifecycles, one sound and each of the others with one flaw.

``core.HermesLifecycle`` is self-contained (it does not use the project's
model): a sound implementation, plus flags that each introduce one flaw a
checker must find. Each module here builds one instance at import and exposes
the hermes-webui functions, so the checkers load it like any third-party
module. ``EXPECTED`` maps each variant to the property it breaks, the kind of
check of ``memory-lifecycle conform`` that finds it (``probes``, ``stateful`` or
``interleave``), and the probe or scenario that does.
"""

EXPECTED: dict[str, tuple[str, str, str]] = {
    "provider_under_lock": ("L3", "interleave", "drain_vs_hung_provider"),
    "split_check_and_set": ("S7", "interleave", "discard_vs_turns"),
    "missing_notify": ("L3", "interleave", "base_exception_vs_waiter"),
    "base_exception_wedge": ("S3", "interleave", "base_exception_vs_waiter"),
    "late_commit_overwrite": ("S2", "interleave", "late_commit_vs_new_turn"),
    "no_follow_up": ("L1", "interleave", "two_boundary_commits"),
    "join_before_start": ("L2", "probes", "hung background commit costs one session"),
    "drain_joins_background": ("L2", "interleave", "hung_background_commit_vs_drain"),
    "drain_in_rounds": ("L2", "interleave", "drain_retries_beside_hung_provider"),
    "drain_leaves_draining": ("L1", "interleave", "busy_commit_after_drain"),
    "interrupt_wedges_session": ("S3", "interleave", "interrupted_host"),
    "interrupt_leaks_lock": ("L3", "interleave", "interrupted_host"),
    "interrupted_wait_drops_lock": ("L3", "interleave", "interrupted_drain"),
    "draining_set_before_try": ("L1", "interleave", "interrupted_drain"),
    "unregister_keeps_agent": ("S4", "stateful", "stateful comparison"),
    "cleanup_spins": ("L3", "probes", "session id hash raises during the call"),
    "id_in_thread_name": ("L4", "probes", "huge session id not copied"),
    "waits_inside_provider": ("L3", "interleave", "cross_session_wait_cycle"),
    "frees_under_lock": ("L3", "probes", "agent __del__ calls the lifecycle"),
    "drain_waits_for_caller": ("L2", "interleave", "provider_calls_drain"),
    "bare_agent_blocks_owned": ("S4", "probes", "owner commits whatever agent is passed"),
    "bad_deadline_sets_draining": ("L1", "probes", "bad drain deadline changes nothing"),
    "timeout_checked_when_waiting": ("S7", "probes", "bad input refused alike everywhere"),
}
"""Variant -> (property it breaks, conform check kind that finds it, probe or scenario)."""
