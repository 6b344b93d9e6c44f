"""A system-wide push-to-talk key on X11 (where the platform allows one): Xlib through ctypes.

Qt has no global shortcuts. On an X11 session a key can be grabbed on the root window from a
connection of our own, so its presses and releases reach us whichever window has focus. Wayland,
Windows and macOS are not covered (``available()`` says so); the in-window key always works.

Everything Xlib is done on one thread that owns the connection: open, grab, event loop, ungrab,
close. Held keys auto-repeat; XKB's "detectable auto-repeat" turns those into presses without
releases, which are ignored, so one hold is one press and one release. The callbacks run on that
thread: hand them to a Qt signal. Nothing here imports Qt.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import sys
import threading
from typing import Callable

from app.errors import UserError

KEY_PRESS, KEY_RELEASE = 2, 3
ANY_MODIFIER = 1 << 15
GRAB_MODE_ASYNC = 1
BAD_ACCESS = 10


class _XErrorEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("display", ctypes.c_void_p), ("resourceid", ctypes.c_ulong),
                ("serial", ctypes.c_ulong), ("error_code", ctypes.c_ubyte),
                ("request_code", ctypes.c_ubyte), ("minor_code", ctypes.c_ubyte)]


class _XKeyEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("root", ctypes.c_ulong),
                ("subwindow", ctypes.c_ulong), ("time", ctypes.c_ulong), ("x", ctypes.c_int),
                ("y", ctypes.c_int), ("x_root", ctypes.c_int), ("y_root", ctypes.c_int),
                ("state", ctypes.c_uint), ("keycode", ctypes.c_uint), ("same_screen", ctypes.c_int)]


class _XEvent(ctypes.Union):
    _fields_ = [("type", ctypes.c_int), ("xkey", _XKeyEvent), ("pad", ctypes.c_long * 24)]


_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_XErrorEvent))


def available(display: str | None = None) -> str | None:
    """None when a global key can be tried here, else the reason in one sentence."""
    if not sys.platform.startswith("linux"):
        return "A system-wide push-to-talk key is only supported on Linux with X11."
    if not (display or os.environ.get("DISPLAY")):
        return "A system-wide push-to-talk key needs an X11 session (none was found)."
    if ctypes.util.find_library("X11") is None:
        return "A system-wide push-to-talk key needs libX11."
    return None


def _xlib():
    x = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11"))
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XDefaultRootWindow.restype = ctypes.c_ulong
    x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x.XStringToKeysym.restype = ctypes.c_ulong
    x.XStringToKeysym.argtypes = [ctypes.c_char_p]
    x.XKeysymToKeycode.restype = ctypes.c_ubyte
    x.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    x.XGrabKey.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_ulong,
                           ctypes.c_int, ctypes.c_int, ctypes.c_int]
    x.XUngrabKey.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_ulong]
    x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x.XPending.argtypes = [ctypes.c_void_p]
    x.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.POINTER(_XEvent)]
    x.XConnectionNumber.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    x.XkbSetDetectableAutoRepeat.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    x.XSetErrorHandler.restype = ctypes.c_void_p
    x.XSetErrorHandler.argtypes = [ctypes.c_void_p]
    return x


def keysym_name(qt_name: str) -> str:
    """Qt's key names ("F9", "Space", "Pause", "ScrollLock") as X keysym names."""
    special = {"space": "space", "scrolllock": "Scroll_Lock", "pause": "Pause", "menu": "Menu",
               "capslock": "Caps_Lock", "insert": "Insert", "print": "Print"}
    return special.get(qt_name.lower(), qt_name)


class GlobalHotkey:
    """Grab ``key`` (a Qt key name like "F9") system-wide; ``start`` raises UserError if it cannot."""

    def __init__(self, key: str, on_press: Callable[[], None], on_release: Callable[[], None],
                 display: str | None = None):
        self.key, self.on_press, self.on_release, self.display = key, on_press, on_release, display
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started = threading.Event()
        self._problem: str | None = None
        self.held = False

    def start(self, timeout: float = 5.0) -> None:
        reason = available(self.display)
        if reason:
            raise UserError(reason)
        self._stop.clear()
        self._started.clear()
        self._thread = threading.Thread(target=self._run, name="global-hotkey", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            self.stop()
            raise UserError("The system-wide push-to-talk key could not be set up in time.")
        if self._problem:
            self._thread.join(timeout)
            self._thread = None
            raise UserError(self._problem)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    # -- the X thread -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            x = _xlib()
        except OSError as e:
            self._fail(f"libX11 could not be loaded ({e}).")
            return
        dpy = x.XOpenDisplay(self.display.encode() if self.display else None)
        if not dpy:
            self._fail("The X11 display could not be opened for a system-wide key.")
            return
        try:
            keysym = x.XStringToKeysym(keysym_name(self.key).encode())
            keycode = x.XKeysymToKeycode(dpy, keysym) if keysym else 0
            if not keycode:
                self._fail(f"The key '{self.key}' is not on this keyboard.")
                return
            root = x.XDefaultRootWindow(dpy)
            errors: list[int] = []

            def on_error(_dpy, event) -> int:  # Xlib's default handler would exit the process
                errors.append(event.contents.error_code)
                return 0

            handler = _ERROR_HANDLER(on_error)
            previous = x.XSetErrorHandler(ctypes.cast(handler, ctypes.c_void_p))
            try:
                x.XGrabKey(dpy, keycode, ANY_MODIFIER, root, 0, GRAB_MODE_ASYNC, GRAB_MODE_ASYNC)
                x.XSync(dpy, 0)
            finally:
                x.XSetErrorHandler(previous)
            if errors:
                self._fail(f"The key '{self.key}' is already used system-wide by another program; "
                           "choose another." if BAD_ACCESS in errors else
                           f"The key '{self.key}' could not be grabbed (X error {errors[0]}).")
                return
            x.XkbSetDetectableAutoRepeat(dpy, 1, None)
            self._started.set()
            self._loop(x, dpy)
            x.XUngrabKey(dpy, keycode, ANY_MODIFIER, root)
            x.XSync(dpy, 0)
        finally:
            x.XCloseDisplay(dpy)
            self._started.set()

    def _loop(self, x, dpy) -> None:
        fd = x.XConnectionNumber(dpy)
        event = _XEvent()
        while not self._stop.is_set():
            if not x.XPending(dpy):
                select.select([fd], [], [], 0.1)
                continue
            x.XNextEvent(dpy, ctypes.byref(event))
            if event.type == KEY_PRESS and not self.held:      # repeats arrive as presses only
                self.held = True
                self._call(self.on_press)
            elif event.type == KEY_RELEASE and self.held:
                self.held = False
                self._call(self.on_release)

    def _call(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # a listener's bug must not end the key grab
            import logging

            logging.getLogger(__name__).exception("global hotkey listener failed")

    def _fail(self, why: str) -> None:
        self._problem = why
        self._started.set()
