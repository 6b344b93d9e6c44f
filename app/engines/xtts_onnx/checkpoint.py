"""Read a PyTorch checkpoint (``torch.save``'s zip of a pickle and raw storages) without torch.

The pickle is loaded with a restricted unpickler: tensors become ``TensorRecord`` s (dtype, shape,
strides, which storage) and only ``read`` touches the storage bytes, so a 1.8 GB checkpoint is
never in memory at once. Anything the pickle names beyond tensors and ordered dicts (XTTS pickles
its config classes) becomes an inert placeholder: no code from the file runs.
"""
from __future__ import annotations

import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_DTYPES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
           "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
           "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class CheckpointError(Exception):
    """The file is not a checkpoint this reader understands; the message says why in one sentence."""


@dataclass(frozen=True)
class TensorRecord:
    storage: str          # storage key: the member ``<archive>/data/<key>``
    dtype: np.dtype
    offset: int           # in elements
    shape: tuple[int, ...]
    strides: tuple[int, ...]


class _Placeholder:
    """Stands for any class the checkpoint pickles besides tensors (never executed)."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


def _rebuild_tensor(storage, offset, shape, strides, *_rest):
    key, dtype = storage
    return TensorRecord(key, dtype, int(offset), tuple(int(s) for s in shape), tuple(int(s) for s in strides))


def _rebuild_parameter(data, *_rest):
    return data


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
            return _rebuild_parameter
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch" and name in _DTYPES:
            return name
        if module.startswith(("TTS.", "coqpit", "trainer")):
            return _Placeholder
        raise CheckpointError(f"the checkpoint refers to {module}.{name}, which a model file should not contain")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage" and pid[1] in _DTYPES):
            raise CheckpointError("the checkpoint holds a storage of a kind this reader does not know")
        return str(pid[2]), np.dtype(_DTYPES[pid[1]])


class Checkpoint:
    """The tensors of ``model.pth`` by name (the ``model`` dict of an XTTS checkpoint)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
            pkl = next(n for n in self._zip.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
            self._root = pkl[: -len("data.pkl")]
            with self._zip.open(pkl) as f:
                obj = _Unpickler(f).load()
        except CheckpointError:
            raise
        except StopIteration:
            raise CheckpointError(f"{self.path.name} is not a PyTorch checkpoint (no data.pkl inside)") from None
        except (zipfile.BadZipFile, OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as e:
            raise CheckpointError(f"{self.path.name} is damaged or truncated ({type(e).__name__})") from None
        state = obj.get("model", obj) if isinstance(obj, dict) else None
        if not isinstance(state, dict):
            raise CheckpointError(f"{self.path.name} holds no dictionary of model weights")
        self.tensors = {k: v for k, v in state.items() if isinstance(v, TensorRecord)}

    def close(self) -> None:
        self._zip.close()

    def read(self, name: str) -> np.ndarray:
        """The tensor's values as a C-contiguous numpy array."""
        rec = self.tensors[name]
        try:
            raw = self._zip.read(f"{self._root}data/{rec.storage}")
        except (KeyError, zipfile.BadZipFile, OSError, EOFError) as e:
            raise CheckpointError(f"the checkpoint's data for {name} is missing or damaged ({type(e).__name__})") from None
        flat = np.frombuffer(raw, dtype=rec.dtype.newbyteorder("<"))
        need = rec.offset + 1 + sum((n - 1) * s for n, s in zip(rec.shape, rec.strides)) if rec.shape else rec.offset + 1
        if flat.size < need:
            raise CheckpointError(f"the checkpoint's data for {name} is shorter than its shape needs")
        view = np.lib.stride_tricks.as_strided(flat[rec.offset:], shape=rec.shape,
                                               strides=tuple(s * rec.dtype.itemsize for s in rec.strides))
        return np.ascontiguousarray(view).astype(rec.dtype.newbyteorder("="), copy=False)
