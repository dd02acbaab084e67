"""Fused optimizer updates on numpy float32 arrays (csrc/optim): each call
updates ``var`` and its slot arrays in place in one pass, with Keras 3's
formulas. Arrays must be float32, C-contiguous and of ``var``'s shape; optional
slots may be None.

    sgd_update(var, grad, momentum_buf|None, lr, momentum, nesterov)
    rmsprop_update(var, grad, velocity, momentum_buf|None, average_grad|None, lr, rho, momentum, eps)
    adam_update(var, grad, m, v, vhat|None, alpha, beta_1, beta_2, eps)   # alpha = bias-corrected lr
    adagrad_update(var, grad, accumulator, lr, eps)
    adadelta_update(var, grad, acc_grad, acc_delta, lr, rho, eps)
    nadam_update(var, grad, m, v, lr, beta_1, beta_2, eps, u_t, u_t1, u_product_t,
                 u_product_t1, beta_2_power)
"""

from fastnet._C import (  # noqa: F401
    adadelta_update,
    adagrad_update,
    adam_update,
    nadam_update,
    rmsprop_update,
    sgd_update,
)

__all__ = ["sgd_update", "rmsprop_update", "adam_update", "adagrad_update", "adadelta_update",
           "nadam_update"]
