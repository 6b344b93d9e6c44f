"""The engine's unix socket: created safely, never replacing what is not ours, removed only if ours.

- missing folders on the way are created 0700 (``Path.mkdir(parents=True)`` gives parents 0755);
- a regular file (or anything but a socket) at the path is left alone and the engine refuses to start;
- a socket another engine still answers on is left alone too; a dead one (connection refused) is
  a leftover of a crashed engine and is replaced;
- ``bind`` itself fails if the path reappeared meanwhile, so two engines starting at once cannot
  both own it; on exit the path is unlinked only if it is still the socket we bound (same inode).
"""
from __future__ import annotations

import errno
import os
import socket
import stat
from pathlib import Path

from app.errors import UserError


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and any missing parents with mode 0700 (existing ones are left as they are)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError as e:
            raise UserError(f"Could not create the socket folder {d} ({e.strerror or e}).") from None


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(str(path))
        return True
    except socket.timeout:
        return True            # a live server with a full backlog is still a live server
    except OSError:
        return False
    finally:
        probe.close()


class OwnedSocket:
    """A listening unix socket bound at ``path``; ``release`` removes the path if it is still ours."""

    def __init__(self, path: Path):
        self.path = Path(path)
        make_private_dirs(self.path.parent)
        self._clear_stale()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # born 0600: private to the user from the first instant
        try:
            self.sock.bind(str(self.path))
        except OSError as e:
            self.sock.close()
            if e.errno == errno.EADDRINUSE:
                raise UserError(f"Another engine took {self.path} while this one was starting; "
                                "use another --uri or stop it first.") from None
            raise UserError(f"Could not create the engine socket {self.path} "
                            f"({e.strerror or e}).") from None
        finally:
            os.umask(old)
        st = os.lstat(self.path)
        self._identity = (st.st_dev, st.st_ino)
        self.sock.listen(64)

    def _clear_stale(self) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise UserError(f"{self.path} already exists and is not a socket, so the engine will not "
                            "replace it; choose another --uri.")
        if _answers(self.path):
            raise UserError(f"Another engine is already serving {self.path}; stop it first or "
                            "choose another --uri.")
        self.path.unlink(missing_ok=True)  # a crashed engine's socket: nobody answers on it

    def release(self) -> None:
        """Close and unlink, unless the path now belongs to something else."""
        self.sock.close()
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if (st.st_dev, st.st_ino) == self._identity:
            self.path.unlink(missing_ok=True)
