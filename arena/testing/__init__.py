"""Public test doubles: a scripted OpenAI-compatible chat server, scripted agents, and the family
contract check. They are part of the API so users can test their own agents and families the way
the arena tests itself."""

from arena.testing.chat_server import (
    FAULT_MARK,
    Fault,
    FaultKind,
    OverflowStyle,
    Policy,
    RecordedRequest,
    ReplayPolicy,
    ScriptedChatServer,
    oracle_policy,
    overflow_error,
    plan_position,
    render_text_action,
    render_tool_calls,
    scripted_chat_server,
    validate_transcript,
)
from arena.testing.family_check import (
    FamilyCheckError,
    Replay,
    Subdir,
    acheck_family,
    check_family,
    replay,
)
from arena.testing.runs import run_to_end

__all__ = [
    "FAULT_MARK",
    "FamilyCheckError",
    "Fault",
    "FaultKind",
    "OverflowStyle",
    "Policy",
    "RecordedRequest",
    "Replay",
    "ReplayPolicy",
    "ScriptedChatServer",
    "Subdir",
    "acheck_family",
    "check_family",
    "oracle_policy",
    "overflow_error",
    "plan_position",
    "render_text_action",
    "render_tool_calls",
    "replay",
    "run_to_end",
    "scripted_chat_server",
    "validate_transcript",
]
