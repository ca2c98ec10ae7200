"""Deliberately broken implementations of the hermes-webui lifecycle API.

Each module is a complete, self-contained implementation with one defect a
careful reviewer could miss; ``EXPECTED`` maps module name -> the property the
conformance suite must flag.
"""

EXPECTED: dict[str, str] = {
    "clears_too_much": "S2",
    "owner_lost_on_failure": "S3",
    "base_exception_wedges": "S3",
    "waiter_never_woken": "L3",
    "registered_steals_segment": "S4",
    "ephemeral_counted": "S1",
    "discard_ownerless_dirty": "S8",
    "unserialised_without_wait": "S5",
    "calls_when_clean": "S9",
    "shared_segment_list": "S6",
    "no_coalescing_in_flight": "S10",
    "busy_request_dropped": "L1",
    "drain_one_by_one": "L2",
    "discard_remembers_agent": "L4",
    "reentrant_waits_on_itself": "L3",
}
