"""The app's session layer, Qt-free: the push-to-talk state machine, the engine link, the audio
devices' life cycle, speaking outside a turn, the push-to-talk keys and the online check."""
from app.session.listener import SessionListener
from app.session.session import Session
from app.session.turn import TurnResult, TurnState, run_turn, settings_after

__all__ = ["Session", "SessionListener", "TurnResult", "TurnState", "run_turn", "settings_after"]
