from app.assistant.assistant import Action, Assistant, Reply
from app.assistant.history import Turn
from app.assistant.timers import Timer, Timers

__all__ = ["Action", "Assistant", "Reply", "Timer", "Timers", "Turn"]
