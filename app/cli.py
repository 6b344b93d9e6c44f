"""The headless contract (DESIGN.md). Exit codes: 0 ok, 2 bad input/usage, 3 nothing could serve, 1 bug."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Callable

from app.console import end_progress, progress_line, show
from app.errors import NothingCouldServe, UserError, os_error_sentence

log = logging.getLogger("kaytoo")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line naming the problem, not a usage dump
        command = self.prog.removeprefix("kaytoo").strip()  # main() prints the "kaytoo: " itself
        raise UserError(f"{command}: {message}." if command else f"{message}.")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kaytoo", description="Kaytoo, a desktop voice assistant.")
    p.add_argument("--verbose", "-v", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    from app.ui.app import add_gui_arguments

    add_gui_arguments(sub.add_parser("gui", help="the desktop app (default)"))

    e = sub.add_parser("engine", help="run the speech engine as a Wyoming server")
    e.add_argument("--uri", required=True, help="stdio://, unix://PATH or tcp://HOST:PORT")
    e.add_argument("--allow-remote", action="store_true", help="allow a non-loopback TCP address")
    e.add_argument("--http", metavar="HOST:PORT", help="also serve the OpenAI-style speech API")
    e.add_argument("--api-key-file", metavar="F", help="every HTTP request must send this key")

    li = sub.add_parser("listen", help="transcribe an audio file")
    li.add_argument("audio", type=Path)
    li.add_argument("--language")
    li.add_argument("--json", action="store_true")

    s = sub.add_parser("say", help="speak text into a WAV file")
    s.add_argument("text")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--voice")
    s.add_argument("--tier", default="auto", choices=["auto", "xtts", "piper", "gtts", "pyttsx3"])
    s.add_argument("--json", action="store_true")

    t = sub.add_parser("turn", help="one push-to-talk turn from a file")
    t.add_argument("--in", dest="inp", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--voice")
    t.add_argument("--tier", default="auto", choices=["auto", "xtts", "piper", "gtts", "pyttsx3"])
    t.add_argument("--realtime", action="store_true",
                   help="feed the audio at real-time pace, as a held key would, hearing it meanwhile")
    t.add_argument("--json", action="store_true")

    v = sub.add_parser("voices", help="the voice library")
    vs = v.add_subparsers(dest="action", required=True, parser_class=_Parser)
    vs.add_parser("list").add_argument("--json", action="store_true")
    a = vs.add_parser("add")
    a.add_argument("name")
    a.add_argument("audio", type=Path)
    a.add_argument("--language", default="en")
    a.add_argument("--json", action="store_true")
    r = vs.add_parser("remove")
    r.add_argument("name")
    r.add_argument("--json", action="store_true")
    rn = vs.add_parser("rename")
    rn.add_argument("old")
    rn.add_argument("new")
    rn.add_argument("--json", action="store_true")
    ex = vs.add_parser("export")
    ex.add_argument("name")
    ex.add_argument("zip", type=Path)
    ex.add_argument("--json", action="store_true")
    im = vs.add_parser("import")
    im.add_argument("zip", type=Path)
    im.add_argument("--json", action="store_true")

    m = sub.add_parser("models", help="speech models: list, download or remove")
    ms = m.add_subparsers(dest="action", required=True, parser_class=_Parser)
    ms.add_parser("list").add_argument("--json", action="store_true")
    d = ms.add_parser("download")
    d.add_argument("name")
    d.add_argument("--accept-licence", action="store_true",
                   help="accept a non-commercial model licence (XTTS: CPML) without asking")
    d.add_argument("--json", action="store_true")
    rm = ms.add_parser("remove", help="delete a downloaded model (bundled ones stay)")
    rm.add_argument("name")
    rm.add_argument("--json", action="store_true")

    from app.video.cli import add_video_parser

    add_video_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # A log file that cannot be written (a full disk) must not print "--- Logging error ---" blocks.
    logging.raiseExceptions = False
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:  # no command: the desktop app, with its default options
            args = parser.parse_args([*argv, "gui"])
        return _run(args)
    except UserError as e:
        print(f"kaytoo: {e}", file=sys.stderr)
        return 2
    except NothingCouldServe as e:
        print(f"kaytoo: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except OSError as e:  # a full disk, a read-only folder …: the user's problem to fix, one line
        log.info("file operation failed", exc_info=True)
        print(f"kaytoo: {os_error_sentence(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug: log the traceback, show one line
        log.exception("unexpected error")
        print(f"kaytoo: internal error: {type(e).__name__}: {e} (details in the log)", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from app import bootstrap, leftovers, paths as paths_mod, settings as settings_mod

    # onnxruntime (Piper, Silero VAD) would otherwise keep a device id and a telemetry queue in
    # ~/.cache/Microsoft/DeveloperTools, outside Kaytoo's folders; the engine child inherits this.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    paths = paths_mod.resolve().ensure()
    lock = leftovers.hold_and_sweep(paths)  # held while the command runs: see app/leftovers.py
    log_name = {"engine": "engine", "gui": "kaytoo-gui"}.get(args.command, "kaytoo")
    bootstrap.setup_logging(paths, args.verbose, log_name)
    settings, warning = settings_mod.load(paths.settings_file)
    if warning:
        print(f"kaytoo: {warning}", file=sys.stderr)
    command = args.command
    handler: Callable[..., int] = {
        "gui": _gui, "engine": _engine, "listen": _listen, "say": _say, "turn": _turn,
        "voices": _voices, "models": _models, "video": _video}[command]
    try:
        if command == "gui":  # the window shows the warning too: it may have no terminal
            return _gui(args, paths, settings, warning)
        return handler(args, paths, settings)
    finally:
        if lock is not None:
            lock.close()


def _gui(args, paths, settings, warning: str | None = None) -> int:
    from app.ui.app import run_gui

    return run_gui(args, paths, settings, warning)


def _video(args, paths, settings) -> int:
    from app.video.cli import run_video

    return run_video(args, paths, settings)


def _core(paths, settings):
    from app.engines.core import EngineCore

    return EngineCore(paths, settings)


def _engine(args, paths, settings) -> int:
    from app.engines.threads import configure_process

    configure_process()  # before any inference library loads
    from app.engines import server

    uri = server.check_uri(args.uri, args.allow_remote)
    http = None
    if args.http:
        from app.engines import http_api

        host, _, port = args.http.rpartition(":")
        if not host or not port.isdigit():
            raise UserError(f"--http needs HOST:PORT, e.g. 127.0.0.1:8000; got '{args.http}'.")
        host = host.strip("[]")
        key = http_api.read_key(args.api_key_file)
        http_api.check_http(host, int(port), args.allow_remote, key)
        http = lambda: http_api.serve_http(core, host, int(port), key)  # noqa: E731
    elif args.api_key_file:
        raise UserError("--api-key-file only applies to --http.")
    protocol_out = None
    if uri.startswith("stdio"):
        # The protocol keeps a private copy of stdout; fd 1, where print() and native libraries
        # write, is pointed at stderr so they cannot corrupt it.
        sys.stdout.flush()
        protocol_out = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
    core = _core(paths, settings)
    server.run(core, uri, protocol_out, http)
    return 0


def _listen(args, paths, settings) -> int:
    from app.audio import clip

    audio = clip.load(args.audio, clip.STT_RATE)
    tr = _core(paths, settings).transcribe(audio.samples, args.language)
    show(args, tr.to_dict(), tr.text)
    return 0


def _say(args, paths, settings) -> int:
    import numpy as np

    from app.audio import clip

    _check_out(args.out)
    speech = _core(paths, settings).speak(args.text, args.voice, args.tier)
    chunks = list(speech)
    clip.write_wav(args.out, np.concatenate(chunks) if chunks else np.zeros(0, np.float32), speech.rate)
    r = speech.report
    data = {"tier": r.tier, "tiers": r.tiers,
            "fallbacks": [{"tier": f.tier, "reason": f.reason} for f in r.fallbacks],
            "first_audio_s": r.first_audio_s, "total_s": r.total_s, "audio_s": r.audio_s,
            "sample_rate": speech.rate, "rtf": r.rtf}
    falls = "".join(f"\n  skipped {f.tier}: {f.reason}" for f in r.fallbacks)
    show(args, data, f"{r.tier} spoke {r.audio_s:.2f} s of audio into {args.out} "
                       f"(first audio after {r.first_audio_s:.2f} s, total {r.total_s:.2f} s){falls}")
    return 0


def _turn(args, paths, settings) -> int:
    import numpy as np

    from app.assistant import Assistant
    from app.audio import clip
    from app.session.turn import run_turn, settings_after

    _check_out(args.out)
    audio = clip.load(args.inp, clip.STT_RATE)
    core = _core(paths, settings)
    loading = core.preload()  # the voice loads while the question is transcribed
    assistant = Assistant(voices=lambda: [v.name for v in core.voices.list()],
                          settings=settings.assistant)
    chunks: list = []
    engine, release = core, None
    if args.realtime:  # a warm engine hears the words while they arrive, as with a held key
        from app.engines.stt.incremental import feed_in_real_time

        loading.join()
        engine = _HeardWhileHeld(core, core.transcriber())
        release = feed_in_real_time(engine.hearing, audio.samples)
    first: list[float] = []

    def on_chunk(chunk) -> None:
        if not first:
            first.append(time.monotonic())
        chunks.append(chunk)

    result = run_turn(engine, assistant, audio.samples, args.voice, on_chunk, tier=args.tier)
    loading.join()  # native threads still loading at interpreter exit abort the process
    clip.write_wav(args.out, np.concatenate(chunks) if chunks else np.zeros(0, np.float32),
                   result.sample_rate)
    changed = settings_after(result.action, settings)
    if changed is not None:  # "switch to the narrator voice" holds for the next command too
        from app.settings import save

        try:
            save(paths.settings_file, changed)
        except UserError as e:  # the reply is written: report it, and say what was not kept
            print(f"kaytoo: {e}", file=sys.stderr)
    full = result.to_dict()
    t = {k: v for k, v in full["timings"].items() if v is not None}
    if release is not None:  # from the moment the last sample was fed
        t["release_to_transcript_s"] = round(engine.heard_at - release, 4)
        t["release_to_first_audio_s"] = round(first[0] - release, 4) if first else None
    data = {"heard": result.heard, "heard_alternatives": result.heard_alternatives,
            "confidence": result.confidence, "intent": result.intent, "reply": result.reply,
            "tier": result.tier, "fallbacks": full["fallbacks"], "timings": t,
            "action": full["action"]}
    human = (f"heard:  {result.heard!r}\nintent: {result.intent}\nreply:  {result.reply}\n"
             f"voice:  {result.tier} -> {args.out}\n"
             f"timings: speech-to-text {t['stt_s']:.2f} s, first audio {t['first_audio_s']:.2f} s, "
             f"total {t['total_s']:.2f} s")
    show(args, data, human)
    return 0


class _HeardWhileHeld:
    """The engine for a turn whose words were heard while they arrived: ``transcribe`` only
    finishes the incremental transcription; speaking goes to the core."""

    def __init__(self, core, hearing):
        self.core, self.hearing, self.heard_at = core, hearing, 0.0

    def transcribe(self, samples16k, language=None):
        transcript = self.hearing.finish()
        self.heard_at = time.monotonic()
        return transcript

    def speak(self, *args, **kwargs):
        return self.core.speak(*args, **kwargs)


def _voices(args, paths, settings) -> int:
    from app.runtime import asset_dir
    from app.voices.library import VoiceLibrary

    lib = VoiceLibrary(paths.voices, asset_dir() / "voices")
    if args.action == "list":
        voices = lib.list()
        show(args, {"voices": [v.to_dict() for v in voices]},
               "\n".join(f"{v.name:20} {v.duration_s:5.1f} s  {v.language}  {v.created}"
                         + ("  (bundled)" if v.bundled else "") for v in voices))
    elif args.action == "add":
        v = lib.add(args.name, args.audio, language=args.language)
        warn = "".join(f"\n  note: {w}" for w in v.warnings)
        show(args, v.to_dict(), f"added voice '{v.name}' ({v.duration_s:.1f} s){warn}")
    elif args.action == "remove":
        token = lib.remove(args.name)
        show(args, {"removed": args.name, "undo": token}, f"removed voice '{args.name}'")
    elif args.action == "rename":
        v = lib.rename(args.old, args.new)
        show(args, v.to_dict(), f"renamed '{args.old}' to '{v.name}'")
    elif args.action == "export":
        _check_out(args.zip)
        out = lib.export(args.name, args.zip)
        show(args, {"exported": args.name, "zip": str(out)}, f"exported '{args.name}' to {out}")
    elif args.action == "import":
        v = lib.import_zip(args.zip)
        show(args, v.to_dict(), f"imported voice '{v.name}'")
    return 0


def _models(args, paths, settings) -> int:
    from app.engines.models import ModelStore

    store = ModelStore(paths.models)
    if args.action == "list":
        infos = store.known()
        show(args, {"models": [_asdict(i) for i in infos]},
               "\n".join(f"{i.name:18} {i.kind:4} {i.size_bytes / 1e6:8.0f} MB  "
                         f"{'bundled' if i.bundled else 'installed' if i.installed else 'not installed':13} "
                         f"{i.licence}" for i in infos))
        return 0
    if args.action == "remove":
        store.remove(args.name)
        show(args, {"removed": args.name}, f"removed model {args.name}")
        return 0
    spec = store.spec(args.name)
    if spec.needs_consent:
        if not args.accept_licence:
            raise UserError(f"{spec.name} is under the licence {spec.licence}, which must be "
                            "accepted first; pass --accept-licence to accept it and download.")
        if spec.name == "xtts-v2" and not settings.tts.xtts_consent:  # the model the XTTS tier loads
            from app.settings import save

            settings.tts.xtts_consent = True
            save(paths.settings_file, settings)

    shown: tuple[str, int] | None = None

    def progress(done: int, total: int, what: str = "") -> None:
        """Bytes while downloading; then, for XTTS, the conversion's steps (``what`` names them)."""
        nonlocal shown
        percent = int(100 * done / total) if total else 100
        if args.json or (what, percent) == shown:  # one update per percent: a log file stays readable
            return
        shown = (what, percent)
        progress_line(f"{args.name}: {what} {percent:3d}%".ljust(72) if what else
                      f"{args.name}: {percent:3d}% ({done / 1e6:.1f} of {total / 1e6:.1f} MB)")

    warnings: list[str] = []
    try:
        path = store.download(spec.name, progress, accept_licence=args.accept_licence,
                              warn=warnings.append)
    finally:
        if shown is not None:  # end the progress line, also before an error message
            end_progress()
    note = "".join(f"\n  note: {w}" for w in warnings)
    show(args, {"model": spec.name, "path": str(path), "warnings": warnings},
         f"{spec.name} installed in {path}{note}")
    return 0


def _asdict(obj) -> dict:
    from dataclasses import asdict, is_dataclass

    return asdict(obj) if is_dataclass(obj) else dict(obj)


def _check_out(path: Path) -> None:
    if path.exists() and path.is_dir():
        raise UserError(f"{path} is a folder; give a file name to write.")
    if not path.parent.exists():
        raise UserError(f"The folder {path.parent} does not exist.")
