"""Turn the one-folder PyInstaller build (dist/kaytoo/) into a Debian package.

Layout: the app in /opt/kaytoo, /usr/bin/kaytoo a symlink to its executable (the bootloader finds
its _internal/ folder through /proc/self/exe, so a symlink is enough), a desktop entry and a
scalable icon under /usr/share, the licences under /usr/share/doc/kaytoo.

Depends is worked out from the bundle, the way dpkg-shlibdeps would: every ELF file in it is run
through ldd with the library path the bootloader sets, and each library that resolves outside the
bundle is mapped to its Debian package with ``dpkg-query -S``. On top come what no ELF header names:
libportaudio2 (sounddevice opens it by name), espeak-ng (the last-resort voice runs the program) and
ffmpeg (clip decoding and the video optimiser run it; the Linux build does not bundle one).

    python installers/make_deb.py --app dist/kaytoo --out dist
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NAME = "kaytoo"
# Found by name at run time, invisible to ldd: sounddevice's PortAudio, the system voice program and
# ffmpeg (installers/collect.py FROM_SYSTEM_ON_LINUX: the static one is not bundled on Linux).
RUNTIME_DEPENDS = ("libportaudio2", "espeak-ng", "ffmpeg")
DESKTOP_FILE = HERE / "linux" / "kaytoo.desktop"
ICON_FILE = HERE / "linux" / "kaytoo.svg"
_ELF_MAGIC = b"\x7fELF"


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == _ELF_MAGIC
    except OSError:
        return False


def system_libraries(app_dir: Path) -> set[Path]:
    """Shared libraries the bundle's ELF files load from the system (not from the bundle)."""
    app_dir = app_dir.resolve()
    env = dict(os.environ, LD_LIBRARY_PATH=str(app_dir / "_internal"))  # as the bootloader sets it
    found: set[Path] = set()
    for f in sorted(app_dir.rglob("*")):
        if not f.is_file() or f.is_symlink() or not is_elf(f):
            continue
        out = subprocess.run(["ldd", str(f)], capture_output=True, text=True, env=env, check=False)
        for line in out.stdout.splitlines():
            m = re.match(r"\s*\S+ => (/\S+) \(0x", line) or re.match(r"\s*(/\S+) \(0x", line)
            if m and not Path(m.group(1)).resolve().is_relative_to(app_dir):
                found.add(Path(m.group(1)))
    return found


def _variants(path: Path) -> set[str]:
    """The names dpkg may know a library by: usr-merged systems list /lib and /usr/lib both ways."""
    text = str(path)
    other = text.removeprefix("/usr") if text.startswith("/usr/") else "/usr" + text
    return {text, str(path.resolve()), other}


def owning_packages(paths: set[Path]) -> set[str]:
    """Debian packages that own ``paths``."""
    candidates = {name: p for p in paths for name in _variants(p)}
    if not candidates:
        return set()
    out = subprocess.run(["dpkg-query", "-S", *sorted(candidates)], capture_output=True, text=True,
                         check=False)
    packages: set[str] = set()
    owned: set[Path] = set()
    for line in out.stdout.splitlines():
        owner, _, path = line.partition(": ")
        if path in candidates:
            owned.add(candidates[path])
            packages.update(o.strip().split(":")[0] for o in owner.split(","))
    unowned = sorted(str(p) for p in paths - owned)
    if unowned:
        print(f"make_deb: no package owns {', '.join(unowned)}; not in Depends", file=sys.stderr)
    return packages


def glibc_floor() -> str | None:
    """The build system's glibc as Depends floor: the bundle was linked against it."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libc6"], capture_output=True, text=True,
                         check=False)
    m = re.match(r"(\d+\.\d+)", out.stdout)
    return m.group(1) if out.returncode == 0 and m else None


def depends(app_dir: Path) -> list[str]:
    packages = owning_packages(system_libraries(app_dir)) | set(RUNTIME_DEPENDS)
    floor = glibc_floor()
    return [f"libc6 (>= {floor})" if p == "libc6" and floor else p for p in sorted(packages)]


def architecture() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


def control(version: str, arch: str, installed_kib: int, deps: list[str]) -> str:
    return (f"Package: {NAME}\nVersion: {version}\nArchitecture: {arch}\n"
            "Maintainer: Kaytoo developers <kaytoo@users.noreply.github.com>\n"
            f"Installed-Size: {installed_kib}\nDepends: {', '.join(deps)}\n"
            "Section: sound\nPriority: optional\n"
            "Description: desktop voice assistant with a dry droid persona\n"
            " Hold a key, speak a command, and Kaytoo answers out loud. Speech recognition\n"
            " (Whisper tiny.en) and an offline voice (Piper) are included, so it works\n"
            " without a network. The cloned XTTS voice is not part of this package.\n")


def _copy_tree(src: Path, dst: Path) -> None:
    """Hard links when src and dst share a file system (the bundle is ~1 GB), else copies."""
    try:
        shutil.copytree(src, dst, symlinks=True, copy_function=os.link)
    except OSError:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, symlinks=True)


def stage(app_dir: Path, root: Path) -> None:
    """Lay the package's files out under ``root`` (the future /)."""
    _copy_tree(app_dir, root / "opt" / NAME)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / NAME).symlink_to(f"/opt/{NAME}/{NAME}")
    apps = root / "usr" / "share" / "applications"
    icons = root / "usr" / "share" / "icons" / "hicolor" / "scalable" / "apps"
    doc = root / "usr" / "share" / "doc" / NAME
    for folder in (apps, icons, doc):
        folder.mkdir(parents=True)
    shutil.copy2(DESKTOP_FILE, apps / f"{NAME}.desktop")
    shutil.copy2(ICON_FILE, icons / f"{NAME}.svg")
    shutil.copy2(REPO / "THIRD_PARTY.md", doc / "THIRD_PARTY.md")
    shutil.copy2(REPO / "THIRD_PARTY.md", doc / "copyright")


def build_deb(app_dir: Path, out_dir: Path, version: str, arch: str | None = None,
              deps: list[str] | None = None, work: Path | None = None) -> Path:
    """Build ``<out_dir>/kaytoo_<version>_<arch>.deb`` from ``app_dir`` and return its path."""
    app_dir = Path(app_dir).resolve()
    if not (app_dir / NAME).is_file():
        raise FileNotFoundError(f"{app_dir / NAME} is missing: build the app with PyInstaller first")
    arch = arch or architecture()
    deps = depends(app_dir) if deps is None else deps
    out_dir.mkdir(parents=True, exist_ok=True)
    deb = out_dir / f"{NAME}_{version}_{arch}.deb"
    # Stage beside the output (same file system: hard links, not a 1 GB copy)
    with tempfile.TemporaryDirectory(prefix="deb-root-", dir=work or out_dir) as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        stage(app_dir, root)
        kib = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink()) // 1024
        (root / "DEBIAN").mkdir()
        (root / "DEBIAN" / "control").write_text(control(version, arch, kib, deps), encoding="utf-8")
        tmp_deb = deb.with_suffix(".deb.part")
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zzstd", "--build", str(root), str(tmp_deb)],
                       check=True, stdout=subprocess.DEVNULL)
        os.replace(tmp_deb, deb)
    return deb


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    import collect

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--app", type=Path, default=REPO / "dist" / NAME, help="the PyInstaller output folder")
    p.add_argument("--out", type=Path, default=REPO / "dist", help="where the .deb goes")
    args = p.parse_args(argv)
    deb = build_deb(args.app, args.out, collect.version(REPO))
    print(deb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
