"""The system-wide push-to-talk key on a private X server (Xvfb), keys typed through XTest."""
from __future__ import annotations

import ctypes
import ctypes.util
import threading

import pytest

from app.errors import UserError
from app.session.global_key import GlobalHotkey, available


class Keyboard:
    """Types keys into the X server as if on a real keyboard (XTest)."""

    def __init__(self, display: str):
        lib = ctypes.util.find_library("Xtst")
        if lib is None:
            pytest.fail("libXtst is missing (Debian package libxtst6)")
        self.x = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11"))
        self.t = ctypes.cdll.LoadLibrary(lib)
        self.x.XOpenDisplay.restype = ctypes.c_void_p
        self.x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x.XStringToKeysym.restype = ctypes.c_ulong
        self.x.XStringToKeysym.argtypes = [ctypes.c_char_p]
        self.x.XKeysymToKeycode.restype = ctypes.c_ubyte
        self.x.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self.x.XFlush.argtypes = [ctypes.c_void_p]
        self.x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self.t.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
        self.dpy = self.x.XOpenDisplay(display.encode())
        assert self.dpy

    def key(self, name: str, down: bool) -> None:
        code = self.x.XKeysymToKeycode(self.dpy, self.x.XStringToKeysym(name.encode()))
        self.t.XTestFakeKeyEvent(self.dpy, code, int(down), 0)
        self.x.XFlush(self.dpy)

    def close(self) -> None:
        self.x.XCloseDisplay(self.dpy)


class Seen:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.cond = threading.Condition()

    def add(self, what: str):
        def note() -> None:
            with self.cond:
                self.events.append(what)
                self.cond.notify_all()
        return note

    def wait_for(self, count: int, timeout: float = 10) -> list[str]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.events) >= count, timeout)
            return list(self.events)


def test_a_held_global_key_is_one_press_and_one_release(xserver):
    seen = Seen()
    hotkey = GlobalHotkey("F9", seen.add("press"), seen.add("release"), display=xserver)
    hotkey.start()
    keyboard = Keyboard(xserver)
    try:
        keyboard.key("F9", True)
        keyboard.key("F9", True)          # what auto-repeat sends while the key is held
        keyboard.key("F9", True)
        assert seen.wait_for(1) == ["press"]
        keyboard.key("F9", False)
        assert seen.wait_for(2) == ["press", "release"]
        keyboard.key("F10", True)         # other keys are not ours
        keyboard.key("F10", False)
        keyboard.key("F9", True)
        keyboard.key("F9", False)
        assert seen.wait_for(4) == ["press", "release", "press", "release"]
    finally:
        keyboard.close()
        hotkey.stop()


def test_a_key_owned_by_another_program_is_refused_plainly(xserver):
    first = GlobalHotkey("F8", lambda: None, lambda: None, display=xserver)
    first.start()
    try:
        with pytest.raises(UserError) as e:
            GlobalHotkey("F8", lambda: None, lambda: None, display=xserver).start()
        assert str(e.value) == ("The key 'F8' is already used system-wide by another program; "
                                "choose another.")
    finally:
        first.stop()
    again = GlobalHotkey("F8", lambda: None, lambda: None, display=xserver)
    again.start()                          # released on stop: usable again
    again.stop()


def test_unknown_key_and_no_display_are_explained(xserver, monkeypatch):
    with pytest.raises(UserError, match="'NoSuchKey' is not on this keyboard"):
        GlobalHotkey("NoSuchKey", lambda: None, lambda: None, display=xserver).start()
    monkeypatch.delenv("DISPLAY", raising=False)
    assert available() == "A system-wide push-to-talk key needs an X11 session (none was found)."
    with pytest.raises(UserError, match="needs an X11 session"):
        GlobalHotkey("F9", lambda: None, lambda: None).start()
