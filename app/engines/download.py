"""Fetch one file over HTTP(S): streamed, resumable, size- and sha256-checked, cancellable.

Bytes go to ``<dest>.part``; a later call resumes it with a Range request (a server that answers
200 instead of 206 is followed from the start). Only a file that passed its checks is renamed to
``dest``, so a half-downloaded file is never mistaken for a whole one. Standard library only.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from app import atomic
from app.errors import Cancelled, UserError

log = logging.getLogger(__name__)

CHUNK = 256 * 1024  # small enough that cancel and progress respond within a fraction of a second
USER_AGENT = "Kaytoo-model-store/1"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class DownloadCancelled(Cancelled, UserError):
    """The caller set the cancel event; the partial file is kept for a later resume."""


class _Dropped(Exception):
    """The connection failed or ended early; worth another attempt from where it stopped."""


def check_url(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise UserError(f"Model downloads need an http(s) address, not {url!r}.")


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects (the hub sends files from a CDN) but never to another scheme; remember the
    last address, so an error names the host that failed, not the one that redirected."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl)
        self.url = newurl
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Stalled(Exception):
    """The server stopped sending for ``timeout`` seconds: give up now (a retry would stall too)."""


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc


def fetch_file(url: str, dest: Path, size: int, sha256: str | None = None, *,
               on_bytes: Callable[[int], None] | None = None,
               cancel: threading.Event | None = None, timeout: float = 10.0,
               retries: int = 2, retry_delay: float = 1.0) -> Path:
    """Download ``url`` to ``dest``. ``on_bytes(n)`` reports bytes of this file on disk so far.

    Raises DownloadCancelled (partial kept), or UserError naming the file on any failure: a
    checksum or size mismatch deletes the partial file, a dropped connection keeps it. A server
    that sends nothing for ``timeout`` seconds is given up at once (no retry).
    """
    check_url(url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    job = _Transfer(url, dest, size, sha256, on_bytes, cancel, timeout)
    attempt = 0
    while True:
        try:
            job.run()
            break
        except _Stalled:
            raise UserError(f"{_host(job.redirects.url)} stopped sending {dest.name} for "
                            f"{timeout:.0f} s (at {job.have} of {size} bytes); run it again to "
                            "resume.") from None
        except _Dropped as e:
            attempt += 1
            if attempt > retries:
                raise UserError(f"The download of {dest.name} stopped at {job.have} of {size} bytes "
                                f"({e}); run it again to resume.") from None
            log.info("download of %s dropped (%s); retry %d of %d", dest.name, e, attempt, retries)
            # Back off before retrying; without a cancel event, wait on a private one (a plain pause).
            if (cancel or threading.Event()).wait(retry_delay * 2 ** (attempt - 1)):
                raise DownloadCancelled(f"The download of {dest.name} was cancelled; "
                                        "run it again to resume.") from None
    job.finish()
    return dest


class _Transfer:
    def __init__(self, url: str, dest: Path, size: int, sha256: str | None,
                 on_bytes: Callable[[int], None] | None, cancel: threading.Event | None,
                 timeout: float):
        self.url, self.dest, self.size, self.sha256 = url, dest, size, sha256
        self.part = dest.with_name(dest.name + ".part")
        self.on_bytes = on_bytes or (lambda n: None)
        self.cancel = cancel
        self.timeout = timeout
        self.redirects = _HttpOnlyRedirects(url)
        self.opener = urllib.request.build_opener(self.redirects)
        self.hasher = hashlib.sha256()
        self.have = 0
        self._resume_from_disk()

    def _cancelled(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise DownloadCancelled(f"The download of {self.dest.name} was cancelled; "
                                    "run it again to resume.")

    def _resume_from_disk(self) -> None:
        """Hash what an earlier attempt left, so the checksum covers the whole file at the end."""
        if not self.part.exists():
            return
        if self.part.stat().st_size > self.size:
            self.part.unlink()
            return
        with open(self.part, "rb") as f:
            while block := f.read(CHUNK):
                self._cancelled()
                self.hasher.update(block)
                self.have += len(block)
        self.on_bytes(self.have)

    def _restart(self) -> None:
        self.part.unlink(missing_ok=True)
        self.hasher = hashlib.sha256()
        self.have = 0
        self.on_bytes(0)

    def run(self) -> None:
        self._cancelled()
        if self.have >= self.size:
            return
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if self.have:
            headers["Range"] = f"bytes={self.have}-"
        self.redirects.url = self.url
        try:
            resp = self.opener.open(urllib.request.Request(self.url, headers=headers),
                                    timeout=self.timeout)
        except urllib.error.HTTPError as e:
            e.close()
            if e.code == 416 and self.have:  # our partial no longer fits the server's file
                self._restart()
                raise _Dropped("the server refused to resume") from None
            if e.code >= 500 or e.code == 429:
                raise _Dropped(f"HTTP {e.code} {e.reason}") from None
            raise UserError(f"The server refused {self.dest.name}: HTTP {e.code} {e.reason} "
                            f"({self.redirects.url}).") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", None) or e
            if isinstance(reason, TimeoutError):
                raise _Stalled() from None
            raise _Dropped(f"could not reach {_host(self.redirects.url)}: {reason}") from None
        with resp:
            self._receive(resp)

    def _receive(self, resp) -> None:
        self._check_body(resp)
        if resp.status == 206:
            m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != self.have:
                self._restart()
                raise _Dropped("the server resumed at the wrong offset")
            mode = "ab"
        elif resp.status == 200:
            if self.have:
                log.info("server ignored the resume request for %s; starting it over", self.dest.name)
                self._restart()
            mode = "wb"
        else:
            raise UserError(f"Unexpected answer HTTP {resp.status} while downloading {self.dest.name}.")
        try:
            out = open(self.part, mode)
        except OSError as e:  # e.g. the model folder was removed by another process meanwhile
            raise UserError(f"Could not write {self.part} ({e.strerror or e}).") from None
        with out:
            while True:
                self._cancelled()
                try:
                    block = resp.read(CHUNK)
                except TimeoutError:
                    raise _Stalled() from None
                except (OSError, http.client.HTTPException) as e:
                    raise _Dropped(f"connection lost at {_host(resp.geturl())}: "
                                   f"{type(e).__name__}") from None
                if not block:
                    break
                if self.have + len(block) > self.size:
                    out.close()
                    self.part.unlink(missing_ok=True)
                    raise UserError(f"{self.dest.name} is larger than the expected {self.size} "
                                    "bytes, so it was discarded.")
                try:
                    out.write(block)
                except OSError as e:
                    raise UserError(f"Could not write {self.part} ({e.strerror or e}).") from None
                self.hasher.update(block)
                self.have += len(block)
                self.on_bytes(self.have)
            out.flush()
            os.fsync(out.fileno())
        if self.have < self.size:
            raise _Dropped("the connection closed early")

    def _check_body(self, resp) -> None:
        """Refuse an answer that cannot be the file (an error page served with 200, a body of the
        wrong size) before a byte of it is written, so it never becomes a .part to resume from."""
        host = _host(resp.geturl())
        if resp.headers.get_content_type() in ("text/html", "application/xhtml+xml"):
            raise UserError(f"{host} answered with a web page instead of {self.dest.name}; "
                            "check the mirror address.")
        length = resp.headers.get("Content-Length")
        expected = self.size - self.have if resp.status == 206 else self.size
        m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
        total = m.group(3) if resp.status == 206 and m else str(self.size)
        if (length is not None and length.isdigit() and int(length) != expected) or \
                (total != "*" and total != str(self.size)):
            raise UserError(f"{host} offers {self.dest.name} with another size than the expected "
                            f"{self.size} bytes, so nothing was kept; check the mirror.")

    def finish(self) -> None:
        """Check size and sha256, then move the file into place."""
        if self.have != self.size:
            raise UserError(f"{self.dest.name} has {self.have} bytes, not the expected {self.size}.")
        if self.sha256 is not None:
            got = self.hasher.hexdigest()
            if got != self.sha256.lower():
                self.part.unlink(missing_ok=True)
                raise UserError(f"{self.dest.name} failed its sha256 check (expected "
                                f"{self.sha256[:12]}…, got {got[:12]}…), so it was deleted; "
                                "try the download again.")
        try:
            os.replace(self.part, self.dest)
        except OSError as e:  # the folder went away (a model removal in another process)
            raise UserError(f"Could not move {self.dest.name} into place ({e.strerror or e}); "
                            "was the model folder removed during the download?") from None
        atomic.fsync_dir(self.dest.parent)

