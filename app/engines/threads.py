"""Thread pools sized once for the machine, before the inference libraries load.

CTranslate2 (Whisper) and torch (XTTS) use OpenMP, onnxruntime (Piper) has its own pool; each
sizes itself to every core and, by default, spin-waits between jobs. Three spinning pools in one
process burned about 3x a single-library server's CPU per clip when the machine was busy, so
the engine sets the waits to passive and the sizes explicitly, once, at start-up.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc mallopt parameters
MMAP_THRESHOLD = 32 << 20               # glibc's own upper bound for the threshold on 64-bit


def cores() -> int:
    """Cores this process may run on (an affinity mask or a container limit counts)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def configure_process() -> None:
    """Call before torch, ctranslate2 or onnxruntime is imported (they read these at load)."""
    n = str(cores())
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OMP_NUM_THREADS", n)
    os.environ.setdefault("MKL_NUM_THREADS", n)
    if sys.platform.startswith("linux"):
        # Every inference thread otherwise gets its own malloc arena, and RSS grows with the
        # number of concurrent clients; two arenas keep memory flat. A fixed mmap threshold
        # gives buffers over it back to the system when freed (glibc otherwise raises it after
        # such a free and keeps them in the heap). 32 MB, not 1 MB: at 1 MB every mid-sized
        # tensor was mapped and faulted in anew at each use (torch's HiFiGAN ×1.2 CPU, Piper
        # and Whisper slower too), for 30 MB less peak RSS with 8 clients (bench/results/peers.md).
        libc = ctypes.util.find_library("c")
        if libc:
            try:
                ctypes.CDLL(libc).mallopt(M_ARENA_MAX, 2)
                ctypes.CDLL(libc).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            except (OSError, AttributeError):
                pass


def trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc; elsewhere nothing to do): after a
    burst of small allocations, such as parsing a protobuf, that free() keeps otherwise."""
    libc = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    if libc:
        try:
            ctypes.CDLL(libc).malloc_trim(0)
        except (OSError, AttributeError):
            pass


def ort_session_options(arena: bool = False, spinning: bool = False):
    """onnxruntime options: one pool as large as the machine, threads that sleep when idle.

    ``spinning``: the pool's threads spin between tasks instead of sleeping. For a model run in a
    tight loop of short runs (XTTS's GPT, one code per run) waking them cost more than spinning:
    16.5 vs 22 ms per code, and less CPU (bench/results/xtts.md).

    ``arena``: keep onnxruntime's memory arena. Without it every run allocates its buffers anew
    (with a 1 MB mmap threshold that made a Piper sentence ×1.35–1.6 slower,
    bench/results/peers.md); with it, the arena keeps the peak of every run that was ever
    concurrent. So only a model whose runs are serialised (Piper: one synthesis at a time) keeps it.
    """
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = cores()
    opts.inter_op_num_threads = 1
    opts.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    opts.enable_cpu_mem_arena = arena
    return opts
