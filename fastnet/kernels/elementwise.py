"""Elementwise kernels on numpy float32 arrays (csrc/elementwise).

    activation_forward(name, x, out, param=None)
        # relu, sigmoid, tanh, leaky_relu (param = negative_slope, default 0.2),
        # elu (param = alpha, default 1), selu, gelu (tanh form), gelu_erf (exact),
        # hard_sigmoid (relu6(x + 3) / 6), hard_silu, softplus, silu / swish; out may be x
    activation_backward(name, saved, dy, out, param=None)
        # out = dy * f'(.); saved = y for sigmoid/tanh, x for the others; out may be dy;
        # dy may be any strided view (a broadcast gradient is read without a copy)
    softmax(x, out, log=False)                # over the last axis
    softmax_backward(y, dy, out)
    sparse_softmax_cross_entropy(logits (N, C), labels int32 (N,), loss (N,), grad=None)
    sparse_categorical_cross_entropy_probs(probs (N, C), labels int32 (N,), loss (N,),
                                           grad=None, epsilon=1e-7)
    categorical_cross_entropy(target, output, loss (output.shape[:-1]), grad=None,
                              from_logits=False, epsilon=1e-7)
    binary_cross_entropy(target, output, loss, grad=None, from_logits=False, epsilon=1e-7)
        # loss of output's shape (elementwise) or output.shape[:-1] (mean over the last axis)
    bias_add(x, bias (C,), out)               # out = x + bias over the last axis; out may be x
    bias_grad(dy, out (C,))                   # out = dy summed over all but the last axis
                                              # (dy may be strided, e.g. a broadcast)

The cross-entropies from probabilities follow Keras: categorical ones normalise the
probabilities by their sum, all clip them to [epsilon, 1 - epsilon] (the gradient is zero
where the clip is active). ``grad`` is d loss / d output per unit upstream gradient and
is filled in the same pass as the loss. Every argument is checked: a wrong dtype raises
TypeError, a wrong shape, layout or overlap ValueError naming the argument and shapes.
"""

from fastnet._C import (  # noqa: F401
    activation_backward,
    activation_forward,
    bias_add,
    bias_grad,
    binary_cross_entropy,
    categorical_cross_entropy,
    softmax,
    softmax_backward,
    sparse_categorical_cross_entropy_probs,
    sparse_softmax_cross_entropy,
)

__all__ = ["activation_forward", "activation_backward", "softmax", "softmax_backward",
           "sparse_softmax_cross_entropy", "sparse_categorical_cross_entropy_probs",
           "categorical_cross_entropy", "binary_cross_entropy", "bias_add", "bias_grad"]
