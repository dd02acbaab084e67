"""Run-time configuration: CPU dispatch level and threads.

``FASTNET_ISA=generic|avx2|avx512`` lowers the instruction-set level chosen
at import; ``FASTNET_NUM_THREADS`` sets the default thread count.
"""

import os

from fastnet import _C


def _tune_numpy_allocator():
    """With glibc keeping large blocks in its heap (see csrc/bindings/cpu.cpp), numpy's
    madvise(MADV_HUGEPAGE) on every large array makes the kernel re-split and re-fault
    the reused heap pages: measured on a max-pool forward+backward, 31 ms per step
    instead of 8.6 ms. Turn that advice off unless the user chose it explicitly."""
    if not _C.allocator_tuned or "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # numpy < 2
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return
    _set_madvise_hugepage(False)


_tune_numpy_allocator()

__all__ = ["cpu_features", "get_num_threads", "set_num_threads", "get_isa", "set_isa",
           "epsilon", "set_epsilon", "floatx", "image_data_format"]


# keras.config's numeric settings (the same functions as fastnet.backend's)
def epsilon():
    from fastnet import backend

    return backend.epsilon()


def set_epsilon(value):
    from fastnet import backend

    backend.set_epsilon(value)


def floatx():
    from fastnet import backend

    return backend.floatx()


def image_data_format():
    from fastnet import backend

    return backend.image_data_format()


def cpu_features():
    """Returns a dict of CPU features, cache sizes and ``'isa'``, the active path."""
    return dict(_C.cpu_features())


def get_num_threads():
    """Number of threads the kernels use (default: the machine's cores)."""
    return _C.get_num_threads()


def set_num_threads(n):
    """Caps the threads every kernel uses at ``n`` (``0`` restores the default)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    _C.set_num_threads(n)


def get_isa():
    """The active instruction-set level: ``'generic'``, ``'avx2'`` or ``'avx512'``."""
    return _C.get_isa()


def set_isa(level):
    """Forces an ISA level no higher than the CPU's; returns the level in use.

    Meant for testing and for pinning results across machines.
    """
    return _C.set_isa(str(level))
