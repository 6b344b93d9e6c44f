"""The first-run wizard: devices with a test tone and a mic check (through the controller on the
virtual sound card), the licence choice, and a cancellable, resumable model download from a local
HTTP server."""
from __future__ import annotations

import hashlib
import http.server
import threading

import pytest
from PySide6.QtWidgets import QWizard

from app import paths as paths_mod
from app.audio.playback import Player, tone
from app.engines import xtts_onnx
from app.engines.models import ModelSpec, ModelStore, RemoteFile
from app.settings import Settings
from app.ui.first_run import FirstRunWizard
from app.ui.jobs import Jobs
from tests.ui_harness import build

PAYLOAD = bytes(range(256)) * 4096 * 3          # 3 MiB of "weights"
HALF = len(PAYLOAD) // 2


class Server:
    """Serves PAYLOAD with Range support; the first response stops halfway until ``gate`` is set."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.halfway = threading.Event()
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                outer.requests.append(rng or "")
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                body = PAYLOAD[start:]
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if len(outer.requests) == 1:
                        self.wfile.write(body[:HALF])
                        self.wfile.flush()
                        outer.halfway.set()
                        outer.gate.wait(30)
                        self.wfile.write(body[HALF:])
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def store_for(server: Server) -> ModelStore:
    spec = ModelSpec("xtts-v2", "tts", "CPML (non-commercial)", "coqui/XTTS-v2", "abc123",
                     (RemoteFile("model.pth", len(PAYLOAD), hashlib.sha256(PAYLOAD).hexdigest()),))
    return ModelStore(paths_mod.resolve().ensure().models, base_url=server.url, catalogue=[spec],
                      retries=0)


def wizard(qtbot, store, settings=None) -> FirstRunWizard:
    w = FirstRunWizard(settings or Settings(), ["pulse"], ["pulse", "HDMI"], store, Jobs())
    qtbot.addWidget(w)
    w.show()
    return w


def to_download_page(w: FirstRunWizard) -> None:
    w.next()
    w.next()
    w.licence.accept_btn.setChecked(True)    # the download page only follows an accepted licence
    w.next()
    assert w.currentPage() is w.download


def test_declining_the_licence_finishes_without_a_download(qtbot, server):
    w = wizard(qtbot, store_for(server))
    assert w.devices.output.count() == 3      # system default + two devices
    w.next()
    assert w.currentPage() is w.voice
    w.next()
    assert w.currentPage() is w.licence
    assert "non-commercial" in w.licence.findChild(type(w.devices.result)).text()
    w.licence.decline_btn.setChecked(True)
    assert w.nextId() == -1                    # Finish, no download page
    w.devices.output.setCurrentIndex(w.devices.output.findData("HDMI"))
    s = w.result_settings()
    assert s.tts.xtts_consent is False and s.ui.first_run_done is True
    assert s.audio.output_device == "HDMI" and s.audio.input_device is None


def test_download_cancels_keeps_the_part_and_resumes(qtbot, server):
    store = store_for(server)
    w = wizard(qtbot, store)
    to_download_page(w)
    page = w.download
    assert "3 MB" in page.status.text() and page.start_btn.text() == "Download"

    job = page.start_download()
    assert server.halfway.wait(30)
    qtbot.waitUntil(lambda: page.bar.value() > 0, timeout=10000)
    page.cancel_btn.click()                   # the user cancels…
    server.gate.set()                         # …and the server goes on sending: it must stop anyway
    assert job.done.wait(30)
    qtbot.waitUntil(lambda: page.start_btn.isEnabled(), timeout=10000)
    assert "Cancelled" in page.status.text()
    part = store.models_dir / "xtts-v2" / "model.pth.part"
    assert part.is_file() and 0 < part.stat().st_size < len(PAYLOAD)

    page.refresh()
    assert page.start_btn.text() == "Resume download"
    job = page.start_download()
    assert job.done.wait(30)
    qtbot.waitUntil(lambda: "Downloaded" in page.status.text(), timeout=10000)
    if xtts_onnx.torch_tier_installed() and xtts_onnx.preferred():
        # the payload is no checkpoint: the conversion fails, the torch backend serves, and the
        # page says so in one more sentence
        assert "Cloned voices will use the slower torch backend, because converting" in page.status.text()
    assert server.requests[-1].startswith("bytes="), "the second request resumed"
    assert (store.models_dir / "xtts-v2" / "model.pth").read_bytes() == PAYLOAD
    assert page.bar.value() == 1000
    page.refresh()
    assert "installed" in page.status.text()


def test_accepting_records_consent(qtbot, server):
    w = wizard(qtbot, store_for(server))
    w.next()
    w.next()
    w.licence.accept_btn.setChecked(True)
    assert w.nextId() == w.page_ids[3]
    assert w.result_settings().tts.xtts_consent is True


def test_tone_and_mic_check_through_the_controller(qtbot, pulse, server, speak):
    ui, log = build(qtbot, speak("What time is it?", "what-time"))
    try:
        ui.window.model_store = store_for(server)
        w = ui.window.open_first_run()
        assert w is not None and w.isVisible()
        w.devices.tone.click()
        qtbot.waitUntil(lambda: bool(any("test tone" in m for m in log.messages)), timeout=10000)

        other = Player()             # someone talks while the mic check listens
        other.start()
        other.play_clip(tone(500, 6.0), 48000)
        w.devices.check.click()
        qtbot.waitUntil(lambda: "hears you" in w.devices.result.text(), timeout=20000)
        other.close()

        w.devices.input.setCurrentIndex(0)
        w.licence.decline_btn.setChecked(True)
        w.accept()
        qtbot.waitUntil(lambda: bool(log.settings), timeout=5000)
        assert log.settings[-1].ui.first_run_done is True
        assert ui.window.first_run is None or not ui.window.first_run.isVisible()
    finally:
        ui.close()


def test_closing_the_wizard_cancels_a_download(qtbot, server):
    w = wizard(qtbot, store_for(server))
    to_download_page(w)
    job = w.download.start_download()
    assert server.halfway.wait(30)
    w.done(QWizard.DialogCode.Rejected)
    server.gate.set()
    assert job.done.wait(30) and job.cancel.is_set()


def buttons(w: FirstRunWizard) -> tuple[bool, bool]:
    """(Next visible, Finish visible) as the user sees them."""
    return (w.button(QWizard.WizardButton.NextButton).isVisible(),
            w.button(QWizard.WizardButton.FinishButton).isVisible())


def test_next_or_finish_follows_the_licence_choice(qtbot, server):
    w = wizard(qtbot, store_for(server))
    w.next()
    w.next()
    assert w.currentPage() is w.licence
    w.licence.decline_btn.setChecked(True)
    assert buttons(w) == (False, True)           # declined: Finish
    w.licence.accept_btn.setChecked(True)
    assert buttons(w) == (True, False)           # accepted: Next, to the download page
    w.next()
    assert w.currentPage() is w.download
    w.back()                                     # the user changes their mind
    w.licence.decline_btn.setChecked(True)
    assert buttons(w) == (False, True)
    w.button(QWizard.WizardButton.FinishButton).click()
    assert w.result() == QWizard.DialogCode.Accepted
    assert w.result_settings().tts.xtts_consent is False


def test_offline_download_error_is_one_plain_sentence(qtbot, monkeypatch):
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    spec = ModelSpec("xtts-v2", "tts", "CPML (non-commercial)", "coqui/XTTS-v2", "abc123",
                     (RemoteFile("model.pth", 10, None),))
    # .invalid never resolves (RFC 2606): as a machine without a network sees the hub.
    store = ModelStore(paths_mod.resolve().ensure().models, base_url="https://hub.kaytoo.invalid",
                       catalogue=[spec], retries=0)
    w = wizard(qtbot, store)
    to_download_page(w)
    job = w.download.start_download()
    assert job.done.wait(60)
    qtbot.waitUntil(lambda: w.download.start_btn.isEnabled(), timeout=10000)
    text = w.download.status.text()
    assert text.startswith("The model could not be downloaded: no network connection "
                           "(hub.kaytoo.invalid could not be reached).")
    assert "Errno" not in text and "]" not in text
