"""Run-time configuration: CPU dispatch level and threads.

``FASTNET_ISA=generic|avx2|avx512`` lowers the instruction-set level chosen
at import; ``FASTNET_NUM_THREADS`` sets the default thread count.
"""

import os

from fastnet import _C


def tune_allocator():
    """Retunes the process's allocator for large short-lived arrays (opt-in).

    Importing fastnet changes no process-wide setting. fastnet's own large kernel
    outputs and workspaces already come from its buffer cache (see
    :func:`memory_stats`), so this is only for programs whose *other* large arrays
    (numpy temporaries in a custom loop, another library's buffers) are reallocated
    every step: glibc then keeps blocks up to 512 MiB in its heap instead of
    returning them to the OS on every free (``mallopt``), and numpy's
    madvise(MADV_HUGEPAGE) on large arrays is switched off (with a reused heap it
    made the kernel re-split pages: a max-pool step 31 ms instead of 8.6 ms).

    The cost: memory a program frees stays resident (measured: 400 MiB allocated and
    freed stays 400 MiB resident). ``FASTNET_TUNE_ALLOCATOR=1`` calls this at import.
    Returns True if the allocator was retuned (glibc only).
    """
    tuned = bool(_C.tune_glibc_allocator())
    if tuned and "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
        try:
            from numpy._core.multiarray import _set_madvise_hugepage
        except ImportError:  # numpy < 2
            try:
                from numpy.core.multiarray import _set_madvise_hugepage
            except ImportError:
                return tuned
        _set_madvise_hugepage(False)
    return tuned


def memory_stats():
    """fastnet's cache of large buffers (kernel outputs, recurrent workspaces).

    Freed blocks of 256 KiB and more are kept for the next step instead of going back to
    the OS (which would page-fault them in again every step), up to a limit
    (``FASTNET_POOL_LIMIT_MB``, default 1024, or :func:`set_memory_limit`). Returns a
    dict: ``cached_bytes``, ``cached_blocks``, ``in_use_bytes``, ``limit_bytes``,
    ``hits``, ``misses``.
    """
    return dict(_C.memory_stats())


def set_memory_limit(num_bytes):
    """Caps the bytes of free blocks fastnet's buffer cache keeps (0: keep none)."""
    if isinstance(num_bytes, bool) or not isinstance(num_bytes, int):
        raise TypeError(f"set_memory_limit: num_bytes must be an int, got {type(num_bytes).__name__}")
    _C.set_pool_limit(num_bytes)


def release_memory():
    """Returns every cached free block to the OS; returns the number of bytes freed."""
    return int(_C.release_cached_memory())


if os.environ.get("FASTNET_TUNE_ALLOCATOR", "").strip() not in ("", "0"):
    tune_allocator()

ISA_LEVELS = ("generic", "avx2", "avx512")


def _check_isa_env():
    """FASTNET_ISA may only name a level this CPU has: a typo or a level above the
    hardware's must not be silently replaced by another path."""
    want = os.environ.get("FASTNET_ISA", "").strip()
    if not want:
        return
    if want not in ISA_LEVELS:
        raise ValueError(f"FASTNET_ISA={want!r} is not an ISA level; valid values: "
                         f"{', '.join(ISA_LEVELS)}")
    hardware = _C.cpu_features()["hardware_isa"]
    if ISA_LEVELS.index(want) > ISA_LEVELS.index(hardware):
        raise ValueError(f"FASTNET_ISA={want!r}: this CPU supports only up to {hardware!r}; "
                         f"valid values here: {', '.join(ISA_LEVELS[:ISA_LEVELS.index(hardware) + 1])}")


_check_isa_env()

__all__ = ["cpu_features", "get_num_threads", "set_num_threads", "thread_stats", "get_isa", "set_isa",
           "tune_allocator", "memory_stats", "set_memory_limit", "release_memory",
           "enable_determinism", "disable_determinism", "is_determinism_enabled",
           "epsilon", "set_epsilon", "floatx", "image_data_format",
           "enable_unsafe_deserialization", "backend", "set_backend", "set_floatx",
           "set_image_data_format", "dtype_policy", "set_dtype_policy",
           "enable_interactive_logging", "disable_interactive_logging",
           "is_interactive_logging_enabled", "max_epochs", "set_max_epochs",
           "max_steps_per_epoch", "set_max_steps_per_epoch", "enable_flash_attention",
           "disable_flash_attention", "is_flash_attention_enabled",
           "enable_traceback_filtering", "disable_traceback_filtering",
           "is_traceback_filtering_enabled", "is_nnx_enabled"]


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


def thread_stats(reset=False):
    """Counters of the kernels' worker pool since the last reset (for tuning and tests).

    ``parallel_regions``: kernel regions that ran on more than one thread;
    ``serial_regions``: regions that stayed on the calling thread (below their grain
    size, nested, one thread, or the pool busy with another Python thread);
    ``wakeups``: times a sleeping worker had to be woken. ``reset=True`` zeroes them
    after reading.
    """
    return dict(_C.thread_stats(bool(reset)))


def get_isa():
    """The active instruction-set level: ``'generic'``, ``'avx2'`` or ``'avx512'``."""
    return _C.get_isa()


def set_isa(level):
    """Forces an ISA level no higher than the CPU's; returns the level in use.

    Meant for testing and for pinning results across machines.
    """
    return _C.set_isa(str(level))


def enable_determinism():
    """Same inputs, same bits, whatever the number of threads.

    Every reduction the kernels split over threads — convolution kernel and bias
    gradients, batch- and layer-norm statistics and gradients, bias sums, average-pool
    gradients, GEMM's choice between its unpacked and packed paths — then partitions
    its work by the problem's size only and combines the partial results in a fixed
    order, so training with the same seed gives bit-identical weights on 1, 2 or N
    threads. (Run to run, fastnet is bit-identical in either mode.) Off by default: a
    few of those reductions use the cores less well in this mode (see
    ARCHITECTURE.md, "Determinism", for the measured cost). ``FASTNET_DETERMINISTIC=1``
    turns it on at import.

    Across ISA levels: the AVX2 and AVX-512 paths give the same bits in this mode
    (every row reduction sums 32 logical lanes in a fixed order on every level, and the
    convolution paths are chosen by the same tile widths; tested by training the same
    model under ``FASTNET_ISA=avx2`` and ``avx512``). The portable level (CPUs without
    AVX2/FMA) cannot: without fused multiply-add every product-sum rounds once more, so
    its results differ from the AVX levels in the last bits (measured: up to ~1e-6
    relative per layer's output or gradient, ~1e-7 typical).
    """
    _C.set_deterministic(True)


def disable_determinism():
    """Back to the default: reductions split by thread (see :func:`enable_determinism`)."""
    _C.set_deterministic(False)


def is_determinism_enabled():
    """Whether :func:`enable_determinism` (or ``FASTNET_DETERMINISTIC=1``) is in effect."""
    return bool(_C.get_deterministic())


def enable_unsafe_deserialization():
    """Allow loading Lambda layers whose function is bytecode stored in a file, in every
    later ``load_model`` (as ``safe_mode=False`` does for one call). Only for files you
    trust: loading such a layer runs code from the file when the layer is called."""
    from fastnet.saving import serialization_lib

    serialization_lib.enable_unsafe_deserialization()


# ---- keras.config's other settings -------------------------------------------------------
def backend():
    """``"fastnet"``: see :func:`fastnet.backend.backend` for why not "tensorflow"."""
    from fastnet import backend as _backend

    return _backend.backend()


def set_backend(backend):
    """Keras switches between TensorFlow, JAX and PyTorch here; fastnet is one backend, so
    only ``"fastnet"`` is accepted (a no-op) and any other name raises naming it."""
    if backend != "fastnet":
        raise ValueError(f"set_backend({backend!r}): fastnet is its own backend and cannot "
                         "switch to another; import keras itself to use that backend")


def set_floatx(value):
    from fastnet import backend as _backend

    _backend.set_floatx(value)


def set_image_data_format(data_format):
    from fastnet import backend as _backend

    _backend.set_image_data_format(data_format)


def dtype_policy():
    """The global DTypePolicy (float32 unless set)."""
    from fastnet import dtype_policies

    return dtype_policies.global_policy()


def set_dtype_policy(policy):
    """As keras.config.set_dtype_policy; only float32 is implemented (see
    fastnet.dtype_policies), other policies raise naming the policy."""
    from fastnet import dtype_policies

    dtype_policies.set_global_policy(policy)


def enable_interactive_logging():
    from fastnet.utils import io_utils

    io_utils.enable_interactive_logging()


def disable_interactive_logging():
    from fastnet.utils import io_utils

    io_utils.disable_interactive_logging()


def is_interactive_logging_enabled():
    from fastnet.utils import io_utils

    return io_utils.is_interactive_logging_enabled()


def _limit(env):
    value = os.environ.get(env)
    return int(value) if value else None


_MAX_EPOCHS = _limit("KERAS_MAX_EPOCHS")
_MAX_STEPS_PER_EPOCH = _limit("KERAS_MAX_STEPS_PER_EPOCH")


def _check_limit(value, name):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise ValueError(f"`{name}` must be a positive integer or None. Received: "
                         f"{name}={value!r}")


def set_max_epochs(max_epochs):
    """A cap on the epochs of every later ``fit`` (None: no cap; also the
    ``KERAS_MAX_EPOCHS`` environment variable), e.g. to smoke-test a long script."""
    global _MAX_EPOCHS
    _check_limit(max_epochs, "max_epochs")
    _MAX_EPOCHS = max_epochs


def max_epochs():
    return _MAX_EPOCHS


def set_max_steps_per_epoch(max_steps_per_epoch):
    """A cap on the steps of every later ``fit`` epoch, ``evaluate`` and ``predict``
    (None: no cap; also ``KERAS_MAX_STEPS_PER_EPOCH``)."""
    global _MAX_STEPS_PER_EPOCH
    _check_limit(max_steps_per_epoch, "max_steps_per_epoch")
    _MAX_STEPS_PER_EPOCH = max_steps_per_epoch


def max_steps_per_epoch():
    return _MAX_STEPS_PER_EPOCH


def _limit_epochs(epochs):
    """fit's epochs under set_max_epochs (with Keras's warning when it cuts them)."""
    if _MAX_EPOCHS and _MAX_EPOCHS < epochs:
        import warnings

        warnings.warn(f"Limiting epochs to {_MAX_EPOCHS}", stacklevel=3)
        return _MAX_EPOCHS
    return epochs


def _limit_steps(steps):
    """A loop's steps under set_max_steps_per_epoch (None: the whole data)."""
    if _MAX_STEPS_PER_EPOCH and (not steps or _MAX_STEPS_PER_EPOCH < steps):
        import warnings

        warnings.warn(f"Limiting steps_per_epoch to {_MAX_STEPS_PER_EPOCH}", stacklevel=3)
        return _MAX_STEPS_PER_EPOCH
    return steps


# ---- switches for features fastnet does not have -------------------------------------------
def is_flash_attention_enabled():
    """False: fastnet's attention (ops.dot_product_attention) has no flash kernel."""
    return False


def disable_flash_attention():
    """A no-op: fastnet never uses flash attention."""


def enable_flash_attention():
    raise NotImplementedError("enable_flash_attention: fastnet has no flash-attention kernel "
                              "(its dot_product_attention is one fused CPU kernel)")


def is_traceback_filtering_enabled():
    """False: fastnet never filters tracebacks (every frame is shown)."""
    return False


def disable_traceback_filtering():
    """A no-op: fastnet's tracebacks are never filtered."""


def enable_traceback_filtering():
    raise NotImplementedError("enable_traceback_filtering: fastnet does not filter "
                              "tracebacks; every frame is always shown")


def is_nnx_enabled():
    """False: Flax NNX is a JAX-backend feature of Keras."""
    return False
