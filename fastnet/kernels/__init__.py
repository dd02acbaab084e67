"""Kernel-level Python API: thin, documented wrappers over ``fastnet._C``.

These functions take and return numpy float32 arrays and do no
differentiation; ``fastnet.ops`` builds the differentiable ops on them. One
module per kernel family (gemm, conv, pool, rnn, norm, elementwise, optim).
"""
