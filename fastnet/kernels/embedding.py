"""Embedding kernels on numpy arrays (csrc/embedding).

    embedding_lookup(table (rows, dim) float32, indices int32/int64 (...), where=...)
        # -> indices.shape + (dim,): table[indices]
    embedding_grad(indices int32/int64 (...), grad float32 indices.shape + (dim,), rows,
                   where=...)
        # -> (rows, dim): the dense gradient of table[indices] wrt table, zeros plus each
        # grad row added at its index (repeated indices sum, in index order)

Every index must be in [0, rows): any other raises IndexError naming ``where`` (the
caller, e.g. the layer), the index and its position, before anything is written. The
indices must be C-contiguous; a wrong dtype raises TypeError, a wrong shape ValueError.
The gradient's threads own blocks of table rows, so its bits do not depend on the
thread count.
"""

from fastnet._C import embedding_grad, embedding_lookup  # noqa: F401

__all__ = ["embedding_lookup", "embedding_grad"]
