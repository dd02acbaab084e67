"""Every built-in layer through the one layer harness (tests/layer_harness.py).

HOW TO ADD A LAYER: append a ``Row`` to ``ROWS`` (several rows per class are fine; the
argument coverage is the union over a class's rows):

    Row(layers.Dense, dict(units=4), (2, 3),        # class, constructor kwargs, input shape
        trainable=2, non_trainable=0,               # weight counts after build
        masking="propagate",                        # None | "propagate" | "consume"
        args={"use_bias": False,                    # every constructor argument: a value that
              "lora_rank": Raises(2)},              #   changes behaviour, or Raises(value)
        args_exempt={"x": "why it cannot be observed here"},
        gradient="why no finite-difference check",  # True (default) or the reason to skip
        train=True, symbolic=True, config=True,     # likewise
        keras_skip={"arg": "why Keras is no oracle for this value"})  # None: the whole row

Multi-input layers take a list of shapes (``positional=True`` calls ``layer(a, b)``);
integer/string inputs give ``make_input=lambda rng, shape: ...``; wrappers give
``sublayer=lambda: layers.Dense(3)``. ``test_every_public_layer_has_a_row`` fails when a
Layer subclass exported by ``fastnet.layers`` has no row, and
``test_every_constructor_argument_is_listed`` when a constructor argument is neither in a
row's ``args`` nor in its ``args_exempt``.
"""

import numpy as np
import pytest
from layer_harness import (
    Raises,
    Row,
    check_argument,
    check_build,
    check_config,
    check_dtype,
    check_input_gradient,
    check_keras_parity,
    check_masking,
    check_symbolic,
    check_train_step,
    constructor_args,
    public_layer_classes,
)

import fastnet
from fastnet import layers, ops


@pytest.fixture(autouse=True)
def fresh_session():
    fastnet.backend.clear_session()


def tokens(high):
    return lambda rng, shape: rng.integers(0, high, size=shape).astype("int32")


def nonzero_tokens(high):
    return lambda rng, shape: rng.integers(1, high, size=shape).astype("int32")


def positive(rng, shape):
    return rng.uniform(0.1, 1.0, size=shape).astype("float32")


KERAS_LAMBDA = "Keras rebuilds a Lambda only from its own (bytecode) serialisation"
INT_INPUT = "integer input: no input gradient"
NO_WEIGHTS_INT = "integer output: nothing to train"
CHANNELS_FIRST = "channels_first"

# ---- shared argument lists ------------------------------------------------------------------

def conv_args(rank, transpose=False):
    args = {
        "filters": 3,
        "kernel_size": 1,
        "strides": 1 if transpose else 2,
        "padding": "same",
        "data_format": CHANNELS_FIRST,
        "dilation_rate": 2,
        "activation": "relu",
        "use_bias": False,
        "kernel_initializer": "ones",
        "bias_initializer": "ones",
        "kernel_regularizer": "l2",
        "bias_regularizer": "l2",
        "activity_regularizer": "l2",
        "kernel_constraint": "non_neg",
        "bias_constraint": "non_neg",
    }
    if transpose:
        args["output_padding"] = 1
        args["groups"] = Raises(2)
        args["dilation_rate"] = Raises(2)  # with strides=2: refused, as Keras
    else:
        args["groups"] = 2
        args["output_padding"] = Raises(1)
    return args


RNN_ARGS = {
    "units": 3,
    "activation": "relu",
    "recurrent_activation": "hard_sigmoid",
    "use_bias": False,
    "kernel_initializer": "ones",
    "recurrent_initializer": "glorot_uniform",
    "bias_initializer": "ones",
    "kernel_regularizer": "l2",
    "recurrent_regularizer": "l2",
    "bias_regularizer": "l2",
    "activity_regularizer": "l2",
    "kernel_constraint": "non_neg",
    "recurrent_constraint": "non_neg",
    "bias_constraint": "non_neg",
    "dropout": 0.5,
    "recurrent_dropout": 0.5,
    "return_sequences": True,
    "return_state": True,
    "go_backwards": True,
    "stateful": True,
}
RNN_EXEMPT = {
    "unroll": "a speed option in Keras: the same results unrolled or not",
    "use_cudnn": "selects a GPU kernel in Keras; no effect on CPU",
}


def masked_steps(rng, shape):
    """Time steps equal to 0 (the default mask_value) and to 0.5, among random ones."""
    x = rng.uniform(-1.0, 1.0, size=shape).astype("float32")
    x[:, 1] = 0.0
    x[:, 3] = 0.5
    return x


CELL_SYMBOLIC = "a cell is called on (inputs, states) per step; RNN(cell) rows test it symbolically"
CELL_KERAS = "Keras's cells take the same call form only inside its RNN layer here"


def _cell_call(layer, x, **kwargs):
    """A cell's one step from its initial state; the output (not the new states)."""
    states = layer.get_initial_state(batch_size=x.shape[0])
    return layer(x, states, **kwargs)[0]


CELL_ARGS = {k: v for k, v in RNN_ARGS.items()
             if k not in ("return_sequences", "return_state", "go_backwards", "stateful")}


def cell_rows():
    rows = []
    for cls, trainable in ((layers.SimpleRNNCell, 3), (layers.LSTMCell, 3),
                           (layers.GRUCell, 3)):
        args = dict(CELL_ARGS)
        args.pop("activity_regularizer")
        if cls is layers.SimpleRNNCell:
            args.pop("recurrent_activation")
        if cls is layers.LSTMCell:
            args["unit_forget_bias"] = False
        if cls is layers.GRUCell:
            args["reset_after"] = False
        args.pop("recurrent_dropout")
        rows.append(Row(cls, dict(units=4), (2, 3), trainable=trainable, call_fn=_cell_call,
                        symbolic=CELL_SYMBOLIC, keras_skip={None: CELL_KERAS}, args=args,
                        fd_tol=3e-2, args_exempt={
                            "recurrent_dropout": "one step from the zero initial state: the "
                            "recurrent mask multiplies zeros (tests/test_rnn_cells.py tests "
                            "it over sequences)"}))
        rows.append(Row(cls, dict(units=4, dropout=0.5), (2, 3), trainable=trainable,
                        call_fn=_cell_call, symbolic=CELL_SYMBOLIC,
                        keras_skip={None: CELL_KERAS}, args={"seed": 7}, fd_tol=3e-2,
                        id=f"{cls.__name__}-dropout",
                        train="the cell's own dropout stream differs between the two "
                              "passes; the first row trains"))
    return rows


def _fresh_states_call(layer, x, **kwargs):
    """A stateful layer's call from zero states (reset first), so that every call of the
    harness's checks is the same function of x; carrying states over calls is tested
    against Keras in tests/test_rnn_keras3.py."""
    layer.reset_states()
    return layer(x, **kwargs)


STATEFUL_SYMBOLIC = "stateful=True needs a static batch size; the symbolic checks use None"


def rnn_rows(cls, trainable):
    args = dict(RNN_ARGS)
    exempt = dict(RNN_EXEMPT)
    if cls is layers.SimpleRNN:  # Keras's SimpleRNN has a single activation, no use_cudnn
        args["recurrent_activation"] = Raises("hard_sigmoid")
        del exempt["use_cudnn"]
    if cls is layers.LSTM:
        args["unit_forget_bias"] = False
    if cls is layers.GRU:
        args["reset_after"] = False
    return [
        Row(cls, dict(units=4), (2, 5, 3), trainable=trainable, masking="consume",
            args=args, args_exempt=exempt, fd_tol=3e-2),
        Row(cls, dict(units=4, stateful=True, return_state=True), (2, 5, 3),
            trainable=trainable, masking="consume", call_fn=_fresh_states_call,
            symbolic=STATEFUL_SYMBOLIC, id=f"{cls.__name__}-stateful", fd_tol=3e-2),
        Row(cls, dict(units=4, unroll=True, return_sequences=True, go_backwards=True),
            (2, 5, 3), trainable=trainable, masking="consume", id=f"{cls.__name__}-unroll",
            fd_tol=3e-2),
        Row(cls, dict(units=4, return_sequences=True), (2, 5, 3), trainable=trainable,
            masking="consume", args={"zero_output_for_mask": True}, id=f"{cls.__name__}-seq",
            fd_tol=3e-2),
        Row(cls, dict(units=4, dropout=0.5), (2, 5, 3), trainable=trainable,
            args={"seed": 7}, id=f"{cls.__name__}-dropout", fd_tol=3e-2,
            train="the layer's own dropout stream differs between the two passes; the "
                  "first row trains"),
    ]


POOL_ARGS = {"pool_size": 3, "strides": 1, "padding": "same", "data_format": CHANNELS_FIRST}
GLOBAL_POOL_ARGS = {"data_format": CHANNELS_FIRST, "keepdims": True}

ROWS = [
    # ---- core -------------------------------------------------------------------------------
    Row(layers.Dense, dict(units=4), (2, 3), trainable=2, weight_shapes=[(3, 4), (4,)],
        masking="propagate",
        args={"units": 5, "activation": "tanh", "use_bias": False,
              "kernel_initializer": "ones", "bias_initializer": "ones",
              "kernel_regularizer": "l2", "bias_regularizer": "l2",
              "activity_regularizer": "l2", "kernel_constraint": "non_neg",
              "bias_constraint": "non_neg", "lora_rank": 2,
              "lora_alpha": Raises(4.0, match="lora_alpha.*needs `lora_rank`"),
              "quantization_config": Raises({"mode": "int8"})}),
    Row(layers.Dense, dict(units=4), (2, 5, 3), trainable=2, id="Dense-3d"),
    Row(layers.Dense, dict(units=4, lora_rank=2), (2, 3), trainable=3, non_trainable=1,
        weight_shapes=[(3, 4), (4,), (3, 2), (2, 4)], id="Dense-lora",
        args={"lora_alpha": 6.0, "lora_rank": Raises(0)}),
    Row(layers.Activation, dict(activation="relu"), (2, 3), masking="propagate",
        args={"activation": "tanh"}, fd_eps=1e-3),
    Row(layers.Dropout, dict(rate=0.5), (4, 6), masking="propagate",
        args={"rate": 0.2, "noise_shape": (4, 1), "seed": 3},
        gradient=True),
    Row(layers.Flatten, {}, (2, 3, 4, 2), args={"data_format": CHANNELS_FIRST}),
    Row(layers.Permute, dict(dims=(2, 1)), (2, 3, 4), masking=None, args={"dims": (1, 2)}),
    Row(layers.RepeatVector, dict(n=3), (2, 4), args={"n": 2}),
    Row(layers.Reshape, dict(target_shape=(6, 2)), (2, 3, 4), args={"target_shape": (4, 3)}),
    Row(layers.Lambda, dict(function=fastnet.ops.tanh), (2, 3),
        args={"function": fastnet.ops.sigmoid, "output_shape": (2, 2),
              "mask": lambda inputs, mask=None: fastnet.ops.greater(inputs, 0.0)},
        keras_skip={None: KERAS_LAMBDA},
        args_exempt={"arguments": "tested by the Lambda-arguments row"}, config=(
            "a Lambda wrapping a Python function is restored only with safe_mode=False")),
    Row(layers.Lambda, dict(function=lambda x, a=1.0: x * a), (2, 3),
        keras_skip={None: KERAS_LAMBDA},
        args={"arguments": {"a": 2.0}}, id="Lambda-arguments",
        config="a Python lambda is serialised as bytecode; tested in test_saving"),
    Row(layers.Embedding, dict(input_dim=10, output_dim=3), (2, 5), make_input=tokens(10),
        trainable=1, weight_shapes=[(10, 3)], gradient=INT_INPUT,
        args={"input_dim": 12, "output_dim": 4, "embeddings_initializer": "ones",
              "embeddings_regularizer": "l2", "embeddings_constraint": "unit_norm",
              "mask_zero": True, "weights": [np.ones((10, 3), np.float32)],
              "lora_rank": 2, "lora_alpha": Raises(4.0, match="lora_alpha.*needs `lora_rank`"),
              "quantization_config": Raises({"mode": "int8"})}),
    Row(layers.Embedding, dict(input_dim=10, output_dim=3, lora_rank=2), (2, 5),
        make_input=tokens(10), trainable=2, non_trainable=1,
        weight_shapes=[(10, 3), (10, 2), (2, 3)], gradient=INT_INPUT, id="Embedding-lora",
        args={"lora_alpha": 6.0}),
    # ---- activation layers --------------------------------------------------------------------
    Row(layers.ReLU, {}, (2, 6), masking="propagate", fd_eps=1e-3,
        args={"max_value": 0.5, "negative_slope": 0.1, "threshold": 0.2}),
    Row(layers.LeakyReLU, {}, (2, 6), masking="propagate", fd_eps=1e-3,
        args={"negative_slope": 0.1}),
    Row(layers.ELU, {}, (2, 6), masking="propagate", fd_eps=1e-3, args={"alpha": 0.5}),
    Row(layers.Softmax, {}, (2, 3, 4), masking="propagate", args={"axis": 1}),
    Row(layers.PReLU, {}, (2, 3, 4), trainable=1, weight_shapes=[(3, 4)], fd_eps=1e-3,
        args={"alpha_initializer": "ones", "alpha_regularizer": "l2",
              "alpha_constraint": "non_neg", "shared_axes": [1]}),
    # ---- convolution -------------------------------------------------------------------------
    Row(layers.Conv1D, dict(filters=4, kernel_size=3), (2, 9, 4), trainable=2,
        weight_shapes=[(3, 4, 4), (4,)], args=conv_args(1)),
    Row(layers.Conv2D, dict(filters=4, kernel_size=3), (2, 7, 7, 4), trainable=2,
        weight_shapes=[(3, 3, 4, 4), (4,)], args=conv_args(2)),
    Row(layers.Conv3D, dict(filters=4, kernel_size=2), (2, 5, 5, 5, 4), trainable=2,
        weight_shapes=[(2, 2, 2, 4, 4), (4,)], args=conv_args(3)),
    Row(layers.Conv1DTranspose, dict(filters=4, kernel_size=3, strides=2), (2, 5, 4),
        trainable=2, weight_shapes=[(3, 4, 4), (4,)], args=conv_args(1, transpose=True)),
    Row(layers.Conv2DTranspose, dict(filters=4, kernel_size=3, strides=2), (2, 4, 4, 4),
        trainable=2, weight_shapes=[(3, 3, 4, 4), (4,)], args=conv_args(2, transpose=True)),
    Row(layers.Conv2DTranspose, dict(filters=4, kernel_size=3), (2, 4, 4, 4), trainable=2,
        args={"dilation_rate": 2}, id="Conv2DTranspose-dilated"),
    Row(layers.Conv3DTranspose, dict(filters=4, kernel_size=3, strides=2), (2, 3, 3, 3, 4),
        trainable=2, weight_shapes=[(3, 3, 3, 4, 4), (4,)],
        args=conv_args(3, transpose=True)),
    Row(layers.DepthwiseConv2D, dict(kernel_size=3), (2, 7, 7, 4), trainable=2,
        weight_shapes=[(3, 3, 4, 1), (4,)],
        args={"kernel_size": 2, "strides": 2, "padding": "same", "depth_multiplier": 2,
              "data_format": CHANNELS_FIRST, "dilation_rate": 2, "activation": "relu",
              "use_bias": False, "depthwise_initializer": "ones", "bias_initializer": "ones",
              "depthwise_regularizer": "l2", "bias_regularizer": "l2",
              "activity_regularizer": "l2", "depthwise_constraint": "non_neg",
              "bias_constraint": "non_neg"}),
    Row(layers.SeparableConv2D, dict(filters=3, kernel_size=3), (2, 7, 7, 4), trainable=3,
        weight_shapes=[(3, 3, 4, 1), (1, 1, 4, 3), (3,)],
        args={"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same",
              "data_format": CHANNELS_FIRST, "dilation_rate": 2, "depth_multiplier": 2,
              "activation": "relu", "use_bias": False, "depthwise_initializer": "ones",
              "pointwise_initializer": "ones", "bias_initializer": "ones",
              "depthwise_regularizer": "l2", "pointwise_regularizer": "l2",
              "bias_regularizer": "l2", "activity_regularizer": "l2",
              "depthwise_constraint": "non_neg", "pointwise_constraint": "non_neg",
              "bias_constraint": "non_neg"}),
    # ---- pooling ------------------------------------------------------------------------------
    Row(layers.MaxPooling1D, {}, (2, 7, 3), args=POOL_ARGS, fd_eps=1e-3),
    Row(layers.MaxPooling2D, {}, (2, 7, 7, 3), args=POOL_ARGS, fd_eps=1e-3),
    Row(layers.MaxPooling3D, {}, (2, 5, 5, 5, 3), args=POOL_ARGS, fd_eps=1e-3),
    Row(layers.AveragePooling1D, {}, (2, 7, 3), args=POOL_ARGS),
    Row(layers.AveragePooling2D, {}, (2, 7, 7, 3), args=POOL_ARGS),
    Row(layers.AveragePooling3D, {}, (2, 5, 5, 5, 3), args=POOL_ARGS),
    Row(layers.GlobalMaxPooling1D, {}, (2, 5, 3), args=GLOBAL_POOL_ARGS, fd_eps=1e-3),
    Row(layers.GlobalMaxPooling2D, {}, (2, 4, 4, 3), args=GLOBAL_POOL_ARGS, fd_eps=1e-3),
    Row(layers.GlobalMaxPooling3D, {}, (2, 3, 3, 3, 2), args=GLOBAL_POOL_ARGS, fd_eps=1e-3),
    Row(layers.GlobalAveragePooling1D, {}, (2, 5, 3), args=GLOBAL_POOL_ARGS,
        masking="consume"),
    Row(layers.GlobalAveragePooling2D, {}, (2, 4, 4, 3), args=GLOBAL_POOL_ARGS),
    Row(layers.GlobalAveragePooling3D, {}, (2, 3, 3, 3, 2), args=GLOBAL_POOL_ARGS),
    # ---- reshaping ----------------------------------------------------------------------------
    Row(layers.Cropping1D, {}, (2, 6, 3),
        args={"cropping": (2, 1), "data_format": Raises(CHANNELS_FIRST)}),
    Row(layers.Cropping2D, dict(cropping=((1, 0), (0, 1))), (2, 6, 6, 3),
        args={"cropping": ((1, 2), (0, 1)), "data_format": CHANNELS_FIRST}),
    Row(layers.Cropping3D, {}, (2, 5, 5, 5, 3),
        args={"cropping": ((1, 0), (0, 1), (1, 1)), "data_format": CHANNELS_FIRST}),
    Row(layers.UpSampling1D, {}, (2, 4, 3),
        args={"size": 3, "interpolation": Raises("bilinear"),
              "data_format": Raises(CHANNELS_FIRST)}),
    Row(layers.UpSampling2D, {}, (2, 3, 3, 2),
        args={"size": 3, "interpolation": Raises("bilinear"), "data_format": CHANNELS_FIRST}),
    Row(layers.UpSampling3D, {}, (2, 2, 2, 2, 2),
        args={"size": 3, "interpolation": Raises("bilinear"),
              "data_format": CHANNELS_FIRST}),
    Row(layers.ZeroPadding1D, {}, (2, 4, 3), args={"padding": (2, 1),
                                                   "data_format": CHANNELS_FIRST}),
    Row(layers.ZeroPadding2D, {}, (2, 3, 3, 2),
        args={"padding": ((1, 2), (0, 1)), "data_format": CHANNELS_FIRST}),
    Row(layers.ZeroPadding3D, {}, (2, 2, 2, 2, 2),
        args={"padding": 2, "data_format": CHANNELS_FIRST}),
    # ---- normalization ------------------------------------------------------------------------
    Row(layers.BatchNormalization, {}, (4, 3), trainable=2, non_trainable=2,
        weight_shapes=[(3,), (3,), (3,), (3,)], masking="propagate",
        args={"axis": 0, "momentum": 0.5, "epsilon": 0.5, "center": False, "scale": False,
              "beta_initializer": "ones", "gamma_initializer": "zeros",
              "moving_mean_initializer": "ones", "moving_variance_initializer": "zeros",
              "beta_regularizer": "l2", "gamma_regularizer": "l2",
              "beta_constraint": "unit_norm", "gamma_constraint": "unit_norm",
              "synchronized": Raises(True), "renorm": Raises(True)},
        args_exempt={"renorm_clipping": "read only with renorm=True (which raises), as in Keras",
                     "renorm_momentum": "read only with renorm=True (which raises), as in Keras"}),
    Row(layers.LayerNormalization, {}, (2, 3, 4), trainable=2, weight_shapes=[(4,), (4,)],
        masking="propagate",
        args={"axis": 1, "epsilon": 0.5, "center": False, "scale": False,
              "rms_scaling": True, "beta_initializer": "ones", "gamma_initializer": "zeros",
              "beta_regularizer": "l2", "gamma_regularizer": "l2",
              "beta_constraint": "unit_norm", "gamma_constraint": "unit_norm"},
        keras_skip={"axis": "Keras's torch backend fails axis=1 on 3-D inputs "
                            "(its torch layer_norm path)"}),
    # ---- merging ------------------------------------------------------------------------------
    Row(layers.Add, {}, [(2, 3), (2, 3)], masking=None),
    Row(layers.Subtract, {}, [(2, 3), (2, 3)]),
    Row(layers.Multiply, {}, [(2, 3), (2, 3)]),
    Row(layers.Average, {}, [(2, 3), (2, 3)]),
    Row(layers.Maximum, {}, [(2, 3), (2, 3)], fd_eps=1e-3),
    Row(layers.Minimum, {}, [(2, 3), (2, 3)], fd_eps=1e-3),
    Row(layers.Concatenate, {}, [(2, 3, 4), (2, 3, 2)], args={"axis": Raises(1)}),
    Row(layers.Concatenate, dict(axis=1), [(2, 3, 4), (2, 3, 4)], args={"axis": -1},
        id="Concatenate-axis1"),
    Row(layers.Dot, dict(axes=1), [(2, 3), (2, 3)], args={"normalize": True}),
    Row(layers.Dot, dict(axes=(2, 2)), [(2, 4, 4), (2, 4, 4)], args={"axes": (1, 1)},
        id="Dot-3d"),
    Row(layers.Dot, dict(axes=(2, 2)), [(2, 3, 4), (2, 5, 4)], args={"axes": Raises((1, 1))},
        id="Dot-3d-mismatch"),
    # ---- attention ----------------------------------------------------------------------------
    Row(layers.Attention, {}, [(2, 3, 4), (2, 5, 4)],
        args={"use_scale": True, "score_mode": "concat", "dropout": 0.5}),
    Row(layers.Attention, dict(dropout=0.5), [(2, 3, 4), (2, 5, 4)], args={"seed": 3},
        id="Attention-dropout"),
    Row(layers.AdditiveAttention, {}, [(2, 3, 4), (2, 5, 4)], trainable=1,
        args={"use_scale": False, "dropout": 0.5}),
    Row(layers.MultiHeadAttention, dict(num_heads=2, key_dim=3), [(2, 3, 4), (2, 5, 4)],
        positional=True, trainable=8,
        args={"num_heads": 1, "key_dim": 2, "value_dim": 5, "dropout": 0.5,
              "use_bias": False, "output_shape": 6, "attention_axes": Raises((0,)),
              "flash_attention": Raises(True), "kernel_initializer": "ones",
              "bias_initializer": "ones", "kernel_regularizer": "l2",
              "bias_regularizer": "l2", "activity_regularizer": "l2",
              "kernel_constraint": "non_neg", "bias_constraint": "non_neg",
              "sliding_window": 2, "use_gate": True}),
    Row(layers.MultiHeadAttention, dict(num_heads=2, key_dim=3, dropout=0.5),
        [(2, 3, 4), (2, 5, 4)], positional=True, trainable=8, args={"seed": 5},
        id="MultiHeadAttention-dropout"),
    # ---- recurrent ----------------------------------------------------------------------------
    *rnn_rows(layers.SimpleRNN, 3),
    *rnn_rows(layers.LSTM, 3),
    *rnn_rows(layers.GRU, 3),
    Row(layers.ConvLSTM2D, dict(filters=2, kernel_size=3), (2, 3, 5, 6, 5), trainable=3,
        fd_tol=3e-2, masking="consume",
        args={"filters": 3, "kernel_size": 2, "strides": 2, "padding": "same",
              "dilation_rate": 2, "activation": "relu",
              "recurrent_activation": "hard_sigmoid", "use_bias": False,
              "kernel_initializer": "ones", "recurrent_initializer": "glorot_uniform",
              "bias_initializer": "ones", "unit_forget_bias": False,
              "kernel_regularizer": "l2", "recurrent_regularizer": "l2",
              "bias_regularizer": "l2", "activity_regularizer": "l2",
              "kernel_constraint": "non_neg", "recurrent_constraint": "non_neg",
              "bias_constraint": "non_neg",
              "return_sequences": True, "return_state": True, "go_backwards": True,
              "data_format": CHANNELS_FIRST, "stateful": True,
              "dropout": 0.5, "recurrent_dropout": 0.5}),
    Row(layers.ConvLSTM2D, dict(filters=2, kernel_size=3, stateful=True, return_state=True),
        (2, 3, 5, 5, 2), trainable=3, fd_tol=3e-2, call_fn=_fresh_states_call,
        symbolic=STATEFUL_SYMBOLIC, id="ConvLSTM2D-stateful"),
    Row(layers.ConvLSTM2D, dict(filters=2, kernel_size=3, dropout=0.5, recurrent_dropout=0.5),
        (2, 3, 5, 5, 2), trainable=3, fd_tol=3e-2, args={"seed": 7}, id="ConvLSTM2D-dropout",
        train="the layer's own dropout stream differs between the two passes; the first row "
              "trains"),
    *cell_rows(),
    Row(layers.RNN, {}, (2, 5, 3), sublayer=lambda: layers.LSTMCell(4), sublayer_arg="cell",
        trainable=3, masking="consume", fd_tol=3e-2,
        args={"return_sequences": True, "return_state": True, "go_backwards": True,
              "stateful": True, "zero_output_for_mask": True},
        args_exempt={"cell": "the wrapped cell itself (the rows give one)",
                     "unroll": RNN_EXEMPT["unroll"]}),
    Row(layers.RNN, {}, (2, 5, 3), id="RNN-stacked-GRU-reset_before", fd_tol=3e-2,
        sublayer=lambda: [layers.GRUCell(3, reset_after=False), layers.SimpleRNNCell(2)],
        sublayer_arg="cell", trainable=6, masking="consume"),
    Row(layers.StackedRNNCells, {}, (2, 3), id="StackedRNNCells",
        sublayer=lambda: [layers.LSTMCell(3), layers.GRUCell(2)], sublayer_arg="cells",
        trainable=6, call_fn=_cell_call, symbolic=CELL_SYMBOLIC,
        keras_skip={None: CELL_KERAS},
        args_exempt={"cells": "the wrapped cells themselves (the row gives two)"}),
    # Masking makes a mask (the input's AND its own), so the harness's "propagate" check (the
    # mask passes unchanged) does not apply; tests/test_rnn_cells.py checks the mask it makes.
    Row(layers.Masking, {}, (2, 5, 3), args={"mask_value": 0.5},
        make_input=masked_steps,
        gradient="piecewise constant in the masked positions: checked by the masking test",
        train=NO_WEIGHTS_INT.replace("integer output", "no weights")),
    Row(layers.Bidirectional, {}, (2, 4, 3), sublayer=lambda: layers.LSTM(3), trainable=6,
        masking="consume", fd_tol=3e-2,
        args={"merge_mode": "sum",
              "backward_layer": layers.LSTM(3, go_backwards=True, activation="relu"),
              "weights": [np.full(s, 0.1, np.float32) for s in
                          [(3, 12), (3, 12), (12,), (3, 12), (3, 12), (12,)]]},
        args_exempt={"layer": "the wrapped layer itself (the rows give one)"}),
    Row(layers.Bidirectional, {}, (2, 4, 3), id="Bidirectional-stateful", trainable=6,
        sublayer=lambda: layers.GRU(3, stateful=True, return_sequences=True),
        call_fn=_fresh_states_call, symbolic=STATEFUL_SYMBOLIC, masking="consume",
        fd_tol=3e-2),
    Row(layers.Bidirectional, {"merge_mode": None}, (2, 4, 3), id="Bidirectional-states",
        trainable=6, fd_tol=3e-2, masking="consume",
        sublayer=lambda: layers.SimpleRNN(3, return_sequences=True, return_state=True,
                                          unroll=True),
        # as Keras 3: a go_backwards layer would read backwards in both directions
        args={"layer": Raises(layers.SimpleRNN(3, go_backwards=True), exc=(ValueError,),
                              match="go_backwards")}),
    Row(layers.TimeDistributed, {}, (2, 4, 5), sublayer=lambda: layers.Dense(3), trainable=2,
        args_exempt={"layer": "the wrapped layer itself (the rows give one)"}),
    # ---- preprocessing ------------------------------------------------------------------------
    Row(layers.CategoryEncoding, dict(num_tokens=5), (2, 3), make_input=tokens(5),
        gradient=INT_INPUT, train=NO_WEIGHTS_INT,
        args={"num_tokens": 6, "output_mode": "count", "sparse": Raises(True)}),
    Row(layers.CenterCrop, dict(height=2, width=3), (2, 5, 5, 3),
        args={"height": 3, "width": 2, "data_format": CHANNELS_FIRST}),
    Row(layers.Discretization, dict(bin_boundaries=[-0.5, 0.0, 0.5]), (2, 6),
        gradient="piecewise-constant output", train=NO_WEIGHTS_INT,
        args={"bin_boundaries": [0.0], "num_bins": Raises(3),
              "output_mode": "one_hot", "sparse": Raises(True)},
        args_exempt={"epsilon": "only used by adapt()"}),
    Row(layers.IntegerLookup, dict(vocabulary=[3, 5, 7]), (2, 4),
        make_input=lambda rng, shape: rng.choice([3, 5, 7, 9], size=shape).astype("int64"),
        gradient=INT_INPUT, train=NO_WEIGHTS_INT,
        args={"max_tokens": Raises(2), "num_oov_indices": 2, "mask_token": 0,
              "vocabulary": [5, 7], "vocabulary_dtype": Raises("int32"),
              "idf_weights": Raises([1.0, 1.0, 1.0]), "invert": True,
              "output_mode": "one_hot", "sparse": Raises(True),
              "pad_to_max_tokens": Raises(True)}),
    Row(layers.IntegerLookup, dict(vocabulary=[3, 5, 7], invert=True), (2, 4),
        make_input=tokens(4), gradient=INT_INPUT, train=NO_WEIGHTS_INT,
        args={"oov_token": -2}, id="IntegerLookup-invert"),
    # several OOV buckets: floormod (the default for integers) or FarmHash / SipHash buckets
    Row(layers.IntegerLookup, dict(vocabulary=[3, 5, 7], num_oov_indices=3), (2, 6),
        make_input=lambda rng, shape: rng.choice([3, 9, 11, 12, 16, 21], size=shape).astype(
            "int64"),
        gradient=INT_INPUT, train=NO_WEIGHTS_INT, config="covered by the IntegerLookup row",
        args={"oov_method": "farmhash", "salt": Raises(7, match="salt")},
        id="IntegerLookup-oov-buckets"),
    Row(layers.IntegerLookup, dict(vocabulary=[3, 5, 7], num_oov_indices=3,
                                   oov_method="farmhash"), (2, 6),
        make_input=lambda rng, shape: rng.choice([3, 9, 11, 12, 16, 21], size=shape).astype(
            "int64"),
        gradient=INT_INPUT, train=NO_WEIGHTS_INT, args={"salt": 7},
        id="IntegerLookup-farmhash"),
    Row(layers.StringLookup, dict(vocabulary=["a", "b", "c"]), (2, 4),
        make_input=lambda rng, shape: rng.choice(["a", "b", "c", "z"], size=shape),
        gradient="string input", train=NO_WEIGHTS_INT,
        symbolic="string inputs have no symbolic dtype here",
        args={"max_tokens": Raises(2), "num_oov_indices": 2, "mask_token": "",
              "oov_token": "[OOV]", "vocabulary": ["b", "c"],
              "idf_weights": Raises([1.0, 1.0, 1.0]), "invert": Raises(True),
              "output_mode": "one_hot", "pad_to_max_tokens": Raises(True),
              "sparse": Raises(True)},
        args_exempt={"encoding": "decodes bytes inputs; see the StringLookup-bytes row"}),
    Row(layers.StringLookup, dict(vocabulary=["a", "b"], num_oov_indices=3), (2, 6),
        make_input=lambda rng, shape: rng.choice(["a", "x", "y", "z", "w", "v"], size=shape),
        gradient="string input", train=NO_WEIGHTS_INT,
        symbolic="string inputs have no symbolic dtype here", args={"salt": [1, 2]},
        id="StringLookup-salt"),
    Row(layers.StringLookup, dict(vocabulary=["\u00e9", "b"]), (2, 4),
        make_input=lambda rng, shape: rng.choice(
            np.array(["\u00e9".encode(), b"b"], dtype=object), size=shape),
        gradient="string input", train=NO_WEIGHTS_INT, symbolic="bytes inputs",
        config="covered by the StringLookup row", args={"encoding": "latin-1"},
        id="StringLookup-bytes"),
    Row(layers.Normalization, dict(mean=0.5, variance=2.0), (2, 3),
        args={"mean": 0.1, "variance": 4.0, "invert": True},
        args_exempt={"axis": "with a given scalar mean/variance only adapt() reads it "
                             "(tests/test_preprocessing.py)"}),
    Row(layers.RandomFlip, dict(seed=1), (8, 4, 4, 3),
        args={"mode": "horizontal", "seed": 2, "data_format": CHANNELS_FIRST}),
    Row(layers.Rescaling, dict(scale=2.0), (2, 3), args={"scale": 0.5, "offset": 1.0}),
    Row(layers.Resizing, dict(height=4, width=4), (2, 8, 10, 3),
        args={"height": 3, "width": 5, "interpolation": "bicubic",
              "crop_to_aspect_ratio": True, "data_format": CHANNELS_FIRST},
        args_exempt={"pad_to_aspect_ratio": "see the Resizing-pad row",
                     "fill_mode": "see the Resizing-pad row",
                     "fill_value": "see the Resizing-pad row",
                     "antialias": "downscaling with it raises NotImplementedError; upscaling "
                                  "ignores it, as Keras (tests/test_image_preprocessing.py)"}),
    Row(layers.Resizing, dict(height=4, width=4, pad_to_aspect_ratio=True), (2, 8, 10, 3),
        id="Resizing-pad", args={"fill_value": 1.0}, config="covered by the Resizing row",
        args_exempt={"fill_mode": "Keras's only fill mode for padding is 'constant'"}),
    Row(layers.RandomCrop, dict(height=4, width=4, seed=1), (2, 8, 10, 3),
        keras_skip={None: "at inference Keras 3.15 returns the input uncropped, against its "
                          "own compute_output_shape; fastnet crops the centre as documented"},
        args={"height": 3, "width": 5, "seed": 2, "data_format": CHANNELS_FIRST}),
    Row(layers.RandomZoom, dict(height_factor=0.3, seed=1, fill_mode="constant"), (2, 8, 10, 3),
        args={"height_factor": 0.5, "width_factor": 0.4, "fill_mode": "nearest",
              "interpolation": "nearest", "seed": 2, "fill_value": 1.0,
              "data_format": CHANNELS_FIRST}),
    Row(layers.RandomRotation, dict(factor=0.2, seed=1, fill_mode="constant"), (2, 8, 10, 3),
        args={"factor": 0.4, "fill_mode": "nearest", "interpolation": "nearest", "seed": 2,
              "fill_value": 1.0, "data_format": CHANNELS_FIRST}),
    Row(layers.RandomTranslation, dict(height_factor=0.2, width_factor=0.2, seed=1, fill_mode="constant"),
        (2, 8, 10, 3),
        args={"height_factor": 0.4, "width_factor": 0.3, "fill_mode": "nearest",
              "interpolation": "nearest", "seed": 2, "fill_value": 1.0,
              "data_format": CHANNELS_FIRST}),
    Row(layers.RandomContrast, dict(factor=0.3, seed=1), (2, 8, 10, 3),
        make_input=lambda rng, shape: rng.uniform(0, 255, size=shape).astype("float32"),
        fd_eps=1.0, args={"factor": 0.6, "value_range": (0, 100), "seed": 2}),
    Row(layers.RandomBrightness, dict(factor=0.3, seed=1), (2, 8, 10, 3),
        make_input=lambda rng, shape: rng.uniform(0, 255, size=shape).astype("float32"),
        fd_eps=1.0, args={"factor": 0.6, "value_range": (0, 100), "seed": 2}),
    Row(layers.Hashing, dict(num_bins=5), (4, 3), make_input=tokens(1000),
        gradient=INT_INPUT, train=NO_WEIGHTS_INT,
        args={"num_bins": 7, "mask_value": 3, "salt": 42, "output_mode": "multi_hot",
              "sparse": Raises(True)}),
    Row(layers.TextVectorization, dict(vocabulary=["a", "b", "c"], output_sequence_length=4),
        (3,), make_input=lambda rng, shape: rng.choice(
            np.array(["a b", "C, c z", "b a a c"]), size=shape),
        gradient="string input", train=NO_WEIGHTS_INT,
        symbolic="string inputs have no symbolic dtype here",
        args={"max_tokens": Raises(2), "standardize": None, "split": "character", "ngrams": 2,
              "output_sequence_length": 6,
              "vocabulary": ["b", "c"], "idf_weights": Raises([1.0, 1.0, 1.0]),
              "pad_to_max_tokens": Raises(True), "sparse": Raises(True),
              "ragged": Raises(True)},
        args_exempt={"encoding": "decodes bytes inputs (tests/test_text_vectorization.py)",
                     "output_mode": "see the TextVectorization-multi_hot row",
                     "name": "the base Layer argument, tested by every row"}),
    Row(layers.TextVectorization, dict(vocabulary=["a", "b", "c"], output_mode="multi_hot"),
        (3,), make_input=lambda rng, shape: rng.choice(
            np.array(["a b", "C, c z", "b a a c"]), size=shape),
        id="TextVectorization-multi_hot", gradient="string input", train=NO_WEIGHTS_INT,
        symbolic="string inputs have no symbolic dtype here", config="covered above",
        args={"output_mode": "count"}),
]

# ---- Keras 3 layers added by the nlayers session (one block, to ease merging) ---------------
NOISE_PROPAGATE = dict(masking="propagate")
CONV_1D_DEPTHWISE_ARGS = {
    "kernel_size": 2, "strides": 2, "padding": "same", "depth_multiplier": 2,
    "data_format": CHANNELS_FIRST, "dilation_rate": 2, "activation": "relu",
    "use_bias": False, "depthwise_initializer": "ones", "bias_initializer": "ones",
    "depthwise_regularizer": "l2", "bias_regularizer": "l2", "activity_regularizer": "l2",
    "depthwise_constraint": "non_neg", "bias_constraint": "non_neg"}
NORM_WEIGHT_ARGS = {
    "epsilon": 0.5, "center": False, "scale": False, "beta_initializer": "ones",
    "gamma_initializer": "zeros", "beta_regularizer": "l2", "gamma_regularizer": "l2",
    "beta_constraint": "unit_norm", "gamma_constraint": "unit_norm"}
EINSUM_ARGS = {
    "equation": Raises("abc"), "output_shape": 5, "activation": "tanh", "bias_axes": None,
    "kernel_initializer": "ones", "bias_initializer": "ones", "kernel_regularizer": "l2",
    "bias_regularizer": "l2", "kernel_constraint": "non_neg", "bias_constraint": "non_neg",
    "lora_rank": 2, "lora_alpha": Raises(2.0, match="lora_alpha.*needs `lora_rank`"),
    "gptq_unpacked_column_size": Raises(4), "quantization_config": Raises("int8")}


def adaptive_rows():
    rows = []
    for cls, shape, out in (
            (layers.AdaptiveAveragePooling1D, (2, 7, 3), 3),
            (layers.AdaptiveAveragePooling2D, (2, 7, 5, 3), (3, 2)),
            (layers.AdaptiveAveragePooling3D, (2, 5, 4, 3, 2), (2, 3, 2)),
            (layers.AdaptiveMaxPooling1D, (2, 7, 3), 3),
            (layers.AdaptiveMaxPooling2D, (2, 7, 5, 3), (3, 2)),
            (layers.AdaptiveMaxPooling3D, (2, 5, 4, 3, 2), (2, 3, 2))):
        rows.append(Row(cls, dict(output_size=out), shape,
                        fd_eps=1e-3 if "Max" in cls.__name__ else 1e-2,
                        args={"output_size": 2, "data_format": CHANNELS_FIRST}))
    return rows


def pixels(rng, shape):
    return rng.uniform(0, 255, size=shape).astype("float32")


RGB_SHAPE = (2, 3, 6, 3)  # RGB in either data_format: (H=3, W=6, C=3) or (C=3, H=6, W=3)


def augmentation_rows():
    """The colour / mixing augmentation layers: random in training, identity at inference
    (AutoContrast always acts); tests/test_keras_layer_names.py checks their training-mode
    numbers against Keras and numpy."""
    common = dict(make_input=pixels, fd_eps=1.0)
    ELEMENTWISE = ("Keras's transform is per pixel value (per image draws): the same in "
                   "either layout")
    vr = {"value_range": (0, 100)}
    return [
        Row(layers.RandomGrayscale, dict(factor=1.0, seed=1), RGB_SHAPE, **common,
            args={"factor": 0.0, "data_format": CHANNELS_FIRST}),
        Row(layers.RandomGrayscale, dict(seed=1), RGB_SHAPE, **common, config="covered above",
            args={"seed": 3}, id="RandomGrayscale-half"),
        Row(layers.RandomInvert, dict(seed=1), RGB_SHAPE, **common,
            args={"factor": 0.5, "seed": 2, **vr}, args_exempt={"data_format": ELEMENTWISE}),
        Row(layers.Solarization, dict(addition_factor=0.5, threshold_factor=0.5, seed=1),
            RGB_SHAPE, **common,
            args={"addition_factor": 0.2, "threshold_factor": 0.9, "seed": 2, **vr}),
        Row(layers.RandomPosterization, dict(factor=4, seed=1), RGB_SHAPE, **common,
            args={"factor": 2, "seed": 2, **vr}, args_exempt={"data_format": ELEMENTWISE}),
        Row(layers.RandomColorDegeneration, dict(factor=0.5, seed=1), RGB_SHAPE, **common,
            args={"factor": 0.9, "seed": 2, "data_format": CHANNELS_FIRST, **vr}),
        Row(layers.AutoContrast, {}, RGB_SHAPE, **common, args=dict(vr)),
        Row(layers.Equalization, {}, RGB_SHAPE, **common,
            args={"bins": 16, "data_format": CHANNELS_FIRST, **vr}),
        Row(layers.RandomSaturation, dict(factor=0.5, seed=1), RGB_SHAPE, **common,
            args={"factor": 0.9, "seed": 2, "data_format": CHANNELS_FIRST,
                  # Keras clips only the scaled saturation (in [0, 1]) to value_range
                  "value_range": (0, 0.05)}),
        Row(layers.RandomHue, dict(factor=0.5, seed=1), RGB_SHAPE, **common,
            args={"factor": 0.9, "seed": 2, "data_format": CHANNELS_FIRST, **vr}),
        Row(layers.RandomSharpness, dict(factor=0.5, seed=1), RGB_SHAPE, **common,
            args={"factor": 0.9, "seed": 2, "data_format": CHANNELS_FIRST, **vr}),
        Row(layers.RandomGaussianBlur, dict(seed=1), RGB_SHAPE, **common,
            args={"factor": 0.5, "kernel_size": 5, "sigma": 0.5, "seed": 2,
                  "data_format": CHANNELS_FIRST, **vr}),
        Row(layers.RandomColorJitter, dict(seed=1, brightness_factor=0.2, contrast_factor=0.5),
            RGB_SHAPE,
            **common,
            args={"brightness_factor": None, "contrast_factor": None,
                  "saturation_factor": 0.5, "hue_factor": 0.5, "seed": 2,
                  "data_format": CHANNELS_FIRST, **vr}),
        Row(layers.MixUp, dict(seed=2), (4, 3, 6, 3), **common,
            args={"alpha": 0.8, "seed": 3}, args_exempt={"data_format": ELEMENTWISE}),
        Row(layers.CutMix, dict(seed=1), (4, 5, 6, 3), **common,
            args={"factor": 0.5, "seed": 2, "data_format": CHANNELS_FIRST}),
        Row(layers.RandomErasing, dict(seed=1), (4, 5, 6, 3), **common,
            args={"factor": 0.5, "scale": (0.3, 0.6), "fill_value": 7.0, "seed": 2,
                  "data_format": CHANNELS_FIRST, **vr}),
        Row(layers.RandomShear, dict(x_factor=0.3, seed=1), (2, 5, 6, 3), **common,
            args={"x_factor": 0.6, "y_factor": 0.4, "interpolation": "nearest",
                  "fill_mode": "constant", "seed": 2, "data_format": CHANNELS_FIRST},
            args_exempt={"fill_value": "see the RandomShear-constant row"}),
        Row(layers.RandomShear, dict(x_factor=0.3, seed=1, fill_mode="constant"), (2, 5, 6, 3),
            **common, id="RandomShear-constant", args={"fill_value": 9.0}),
        Row(layers.RandomShear, dict(x_factor=0.3, seed=1), (2, 5, 6, 3), **common,
            id="RandomShear-bad", config="covered above",
            args={"fill_mode": Raises("mirror"), "x_factor": Raises(1.5)}),
        Row(layers.RandAugment, dict(seed=1, num_ops=6), RGB_SHAPE, **common,
            args={"value_range": (0, 100), "num_ops": 1, "factor": 0.9,
                  "interpolation": "nearest", "seed": 2, "data_format": CHANNELS_FIRST}),
        Row(layers.AugMix, dict(seed=1), RGB_SHAPE, **common,
            args={"value_range": (0, 100), "num_chains": 1, "chain_depth": 1, "factor": 0.9,
                  "alpha": 0.3, "all_ops": False, "interpolation": "nearest", "seed": 2,
                  "data_format": CHANNELS_FIRST}),
        Row(layers.RandomElasticTransform, dict(seed=1), (2, 12, 14, 3), **common,
            args={"factor": 0.5, "scale": 0.5, "interpolation": "nearest",
                  "fill_mode": "constant", "value_range": (0, 100), "seed": 2,
                  "data_format": CHANNELS_FIRST},
            args_exempt={"fill_value": "see the RandomElasticTransform-constant row"}),
        Row(layers.RandomElasticTransform, dict(seed=1, fill_mode="constant"), (2, 12, 14, 3),
            **common, id="RandomElasticTransform-constant", args={"fill_value": 500.0}),
        Row(layers.ContrastLimitedAdaptiveHistogramEqualization, dict(tile_grid_size=(2, 2)),
            (2, 8, 8, 3), **common,
            gradient="piecewise constant in the pixel values (histogram bins)",
            keras_skip={"clip_limit": "Keras's torch backend truncates the clip limit "
                                      "(integer histograms); checked with integer limits in "
                                      "tests/test_keras_layer_names.py",
                        None: "the default clip limit is fractional on 4x4 tiles (see "
                              "clip_limit)"},
            args={"value_range": (0, 100), "clip_limit": 0.5, "tile_grid_size": (4, 4),
                  "data_format": CHANNELS_FIRST}),
        Row(layers.RandomPerspective, dict(seed=1), (2, 5, 6, 3), **common,
            args={"factor": 0.5, "scale": 0.4, "interpolation": "nearest",
                  "fill_value": 9.0, "seed": 2, "data_format": CHANNELS_FIRST}),
    ]


ROWS += [
    Row(layers.ActivityRegularization, {}, (2, 3), masking="propagate",
        args={"l1": 0.1, "l2": 0.2}),
    Row(layers.ActivityRegularization, dict(l1=0.1), (2, 3), id="ActivityRegularization-neg",
        args={"l2": Raises(-1.0)}),
    Row(layers.Identity, {}, (2, 3, 4), masking="propagate"),
    Row(layers.GaussianNoise, dict(stddev=0.5), (4, 6), masking="propagate",
        args={"stddev": 0.2, "seed": 3}),
    Row(layers.GaussianNoise, dict(stddev=0.5), (4, 6), id="GaussianNoise-bad",
        args={"stddev": Raises(1.5)}),
    Row(layers.GaussianDropout, dict(rate=0.5), (4, 6), masking="propagate",
        args={"rate": 0.2, "seed": 3}),
    Row(layers.AlphaDropout, dict(rate=0.5), (4, 6), masking="propagate",
        args={"rate": 0.2, "noise_shape": (4, 1), "seed": 3}),
    Row(layers.SpatialDropout1D, dict(rate=0.5), (4, 5, 6), masking="propagate",
        args={"rate": 0.2, "seed": 3}),
    Row(layers.SpatialDropout2D, dict(rate=0.5), (4, 3, 3, 6),
        args={"rate": 0.2, "seed": 3, "data_format": CHANNELS_FIRST}),
    Row(layers.SpatialDropout3D, dict(rate=0.5), (4, 2, 3, 2, 6),
        args={"rate": 0.2, "seed": 3, "data_format": CHANNELS_FIRST}),
    Row(layers.GroupNormalization, dict(groups=2), (2, 4, 6), trainable=2,
        weight_shapes=[(6,), (6,)], masking="propagate",
        args={"groups": -1, "axis": 1, **NORM_WEIGHT_ARGS}),
    Row(layers.GroupNormalization, dict(groups=2), (2, 4, 6), trainable=2,
        id="GroupNormalization-bad-groups", args={"groups": Raises(4, match="groups")}),
    Row(layers.RMSNormalization, {}, (2, 3, 4), trainable=1, weight_shapes=[(4,)],
        args={"axis": 1, "epsilon": 0.5},
        keras_skip={"axis": "Keras's torch backend fails a non-trailing axis (torch.rms_norm "
                            "normalizes the trailing dims)"}),
    Row(layers.RMSNormalization, dict(axis=[1, 2]), (2, 3, 4), trainable=1,
        weight_shapes=[(3, 4)], id="RMSNormalization-2axes"),
    Row(layers.UnitNormalization, {}, (2, 3, 4), masking="propagate", args={"axis": [1, 2]}),
    Row(layers.EinsumDense, dict(equation="ab,bc->ac", output_shape=4, bias_axes="c"), (2, 3),
        trainable=2, weight_shapes=[(3, 4), (4,)], args=EINSUM_ARGS),
    Row(layers.EinsumDense, dict(equation="abc,cd->abd", output_shape=(5, 4), bias_axes="d"),
        (2, 5, 3), trainable=2, weight_shapes=[(3, 4), (4,)], id="EinsumDense-3d"),
    Row(layers.EinsumDense, dict(equation="abc,cde->abde", output_shape=(5, 2, 4),
                                 bias_axes="de", lora_rank=3), (2, 5, 3), trainable=3,
        non_trainable=1, weight_shapes=[(3, 2, 4), (2, 4), (3, 2, 3), (3, 4)],
        id="EinsumDense-lora", args={"lora_alpha": 1.5}),
    Row(layers.EinsumDense, dict(equation="...b,bc->...c", output_shape=4, bias_axes="c"),
        (2, 5, 3), trainable=2, weight_shapes=[(3, 4), (4,)], id="EinsumDense-left-ellipsis"),
    Row(layers.EinsumDense, dict(equation="ab...,bc->ac...", output_shape=4, bias_axes="c"),
        (2, 3, 5), trainable=2, weight_shapes=[(3, 4), (4, 1)],
        id="EinsumDense-right-ellipsis"),
    Row(layers.EinsumDense, dict(equation="abc,cde->abde", output_shape=(5, 2, 4),
                                 bias_axes="de"),
        (2, 5, 3), trainable=2, weight_shapes=[(3, 2, 4), (2, 4)], id="EinsumDense-heads"),
    Row(layers.EinsumDense, dict(equation="abc,cd->adb", output_shape=(4, 5), bias_axes="d"),
        (2, 5, 3), trainable=2, weight_shapes=[(3, 4), (4, 1)], id="EinsumDense-transposed"),
    Row(layers.DepthwiseConv1D, dict(kernel_size=3), (2, 9, 4), trainable=2,
        weight_shapes=[(3, 4, 1), (4,)], args=CONV_1D_DEPTHWISE_ARGS),
    Row(layers.DepthwiseConv1D, dict(kernel_size=3), (2, 9, 4), trainable=2,
        id="DepthwiseConv1D-causal", args={"padding": Raises("causal")}),
    Row(layers.SeparableConv1D, dict(filters=3, kernel_size=3), (2, 9, 4), trainable=3,
        weight_shapes=[(3, 4, 1), (1, 4, 3), (3,)],
        args={"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same",
              "data_format": CHANNELS_FIRST, "dilation_rate": 2, "depth_multiplier": 2,
              "activation": "relu", "use_bias": False, "depthwise_initializer": "ones",
              "pointwise_initializer": "ones", "bias_initializer": "ones",
              "depthwise_regularizer": "l2", "pointwise_regularizer": "l2",
              "bias_regularizer": "l2", "activity_regularizer": "l2",
              "depthwise_constraint": "non_neg", "pointwise_constraint": "non_neg",
              "bias_constraint": "non_neg"}),
    *adaptive_rows(),
    *augmentation_rows(),
    # converged power iterations, so the training step's second normalization is ~identity
    Row(layers.SpectralNormalization, dict(power_iterations=30), (3, 4),
        sublayer=lambda: layers.Dense(3),
        trainable=2, non_trainable=1, weight_shapes=[(4, 3), (1, 3), (3,)],
        args={"power_iterations": 1},
        args_exempt={"layer": "the wrapped layer itself (the rows give one)"}),
    Row(layers.SpectralNormalization, {}, (2, 5, 5, 2), id="SpectralNormalization-conv",
        sublayer=lambda: layers.Conv2D(3, 2), trainable=2, non_trainable=1,
        args={"power_iterations": Raises(0)}),
    Row(layers.Pipeline, {}, (2, 4), sublayer_arg="layers",
        sublayer=lambda: [layers.Rescaling(0.5), layers.Dense(3), layers.Dropout(0.5)],
        trainable=2, keras_skip={None: "Keras's Pipeline.from_config cannot rebuild the "
                                      "Dense layer without its build config here"},
        args_exempt={"layers": "the pipeline's layers themselves (the row gives them)"}),
    Row(layers.ReversibleEmbedding, dict(input_dim=10, output_dim=3), (2, 5),
        make_input=tokens(10), trainable=1, weight_shapes=[(10, 3)], gradient=INT_INPUT,
        args={"input_dim": 12, "output_dim": 4, "embeddings_initializer": "ones",
              "embeddings_regularizer": "l2", "embeddings_constraint": "unit_norm",
              "mask_zero": True, "tie_weights": False},
        args_exempt={"reverse_dtype": "see the ReversibleEmbedding-reverse row",
                     "logit_soft_cap": "see the ReversibleEmbedding-reverse row"}),
    Row(layers.ReversibleEmbedding, dict(input_dim=10, output_dim=3), (2, 5, 3),
        id="ReversibleEmbedding-reverse", trainable=1, weight_shapes=[(10, 3)],
        call_fn=lambda layer, x, **kw: layer(x, reverse=True, **kw),
        symbolic="tested by test_reversible_embedding_symbolic_reverse",
        keras_skip={None: "the harness's Keras call has no reverse=True"},
        args={"tie_weights": False, "logit_soft_cap": 0.5, "reverse_dtype": "float64"}),
    Row(layers.GroupQueryAttention, dict(head_dim=3, num_query_heads=4, num_key_value_heads=2),
        [(2, 3, 4), (2, 5, 4)], positional=True, trainable=8,
        args={"head_dim": 2, "num_query_heads": 2, "num_key_value_heads": 1, "dropout": 0.5,
              "use_bias": False, "sliding_window": 2, "flash_attention": Raises(True),
              "kernel_initializer": "ones", "bias_initializer": "ones",
              "kernel_regularizer": "l2", "bias_regularizer": "l2",
              "activity_regularizer": "l2", "kernel_constraint": "non_neg",
              "bias_constraint": "non_neg", "use_gate": True}),
    Row(layers.GroupQueryAttention, dict(head_dim=3, num_query_heads=4, num_key_value_heads=2,
                                         dropout=0.5), [(2, 3, 4), (2, 5, 4)], positional=True,
        trainable=8, args={"seed": 5, "num_key_value_heads": Raises(3)},
        id="GroupQueryAttention-dropout"),
    Row(layers.HashedCrossing, dict(num_bins=5), [(4,), (4,)], make_input=tokens(1000),
        gradient=INT_INPUT, train=NO_WEIGHTS_INT,
        keras_skip={None: "Keras's HashedCrossing requires TensorFlow (the documented "
                          "example is checked in tests/test_keras_layer_names.py)"},
        args={"num_bins": 7, "output_mode": "one_hot", "sparse": Raises(True)}),
    Row(layers.HashedCrossing, dict(num_bins=5), [(4, 1), (4, 1)], make_input=tokens(1000),
        gradient=INT_INPUT, train=NO_WEIGHTS_INT, id="HashedCrossing-column",
        keras_skip={None: "Keras's HashedCrossing requires TensorFlow"},
        args={"output_mode": "one_hot"}),
    Row(layers.STFTSpectrogram, dict(frame_length=8, mode="magnitude"), (2, 40, 2),
        trainable=2, weight_shapes=[(8, 1, 5), (8, 1, 5)], fd_eps=1e-3,
        args={"mode": "log", "frame_length": 16, "frame_step": 2, "fft_length": 16,
              "window": "hamming", "periodic": True, "scaling": "spectrum",
              "padding": "same", "expand_dims": True},
        args_exempt={"data_format": "see the STFTSpectrogram-square row"}),
    Row(layers.STFTSpectrogram, dict(frame_length=8, mode="magnitude"), (2, 16, 16),
        trainable=2, id="STFTSpectrogram-square", fd_eps=1e-3,
        args={"data_format": CHANNELS_FIRST}),
    Row(layers.STFTSpectrogram, dict(frame_length=8, mode="psd"), (2, 40, 2), trainable=2,
        id="STFTSpectrogram-psd", args={"mode": "stft"}),
    Row(layers.MelSpectrogram, dict(fft_length=64, sequence_stride=32, num_mel_bins=16,
                                    sampling_rate=8000), (2, 400), fd_eps=1e-3, fd_tol=5e-2,
        args={"fft_length": 128, "sequence_stride": 16, "sequence_length": 48,
              "window": "hamming", "sampling_rate": 16000, "num_mel_bins": 8,
              "min_freq": 300.0, "max_freq": 3000, "power_to_db": False, "top_db": 10.0,
              "mag_exp": 1.0, "min_power": 10.0, "ref_power": 2.0}),
]

# Layer classes without a row of their own, and why.
EXCLUDED = {
    layers.Layer: "the abstract base class (every row tests it)",
    layers.InputLayer: "not called on data: it makes a graph's input (tests/test_layers_models.py)",
    layers.Wrapper: "the abstract base of wrappers (its subclasses' rows test it; "
                    "tests/test_keras_layer_names.py subclasses it)",
}

ROW_IDS = [r.name for r in ROWS]


def _rows_with(attr):
    return [pytest.param(r, id=r.name) for r in ROWS if getattr(r, attr) is True]


def test_row_ids_are_unique():
    assert len(set(ROW_IDS)) == len(ROW_IDS), [i for i in ROW_IDS if ROW_IDS.count(i) > 1]


def test_every_public_layer_has_a_row():
    covered = {r.cls for r in ROWS} | set(EXCLUDED)
    missing = sorted(name for cls, name in public_layer_classes().items() if cls not in covered)
    assert not missing, f"fastnet.layers exports layers without a harness row: {missing}"


def test_every_constructor_argument_is_listed():
    listed = {}
    for r in ROWS:
        names = listed.setdefault(r.cls, set())
        names.update(r.args, r.args_exempt)
    missing = {}
    for cls, names in listed.items():
        left = [a for a in constructor_args(cls) if a not in names]
        if left:
            missing[cls.__name__] = left
    assert not missing, f"constructor arguments neither tested nor exempted: {missing}"


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in ROWS])
def test_build_and_weights(row):
    check_build(row)


@pytest.mark.parametrize("row", _rows_with("symbolic"))
def test_symbolic_output_spec_matches_eager(row):
    check_symbolic(row)


@pytest.mark.parametrize("row", _rows_with("config"))
def test_config_round_trip(row):
    check_config(row)


@pytest.mark.parametrize("row", _rows_with("train"))
def test_one_training_step_lowers_the_loss(row):
    check_train_step(row)


@pytest.mark.parametrize("row", _rows_with("gradient"))
def test_input_gradient_matches_finite_differences(row):
    check_input_gradient(row)


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in ROWS if r.masking])
def test_masking(row):
    check_masking(row)


def _arg_params():
    out = []
    for r in ROWS:
        for arg, value in r.args.items():
            out.append(pytest.param(r, arg, value, id=f"{r.name}-{arg}"))
    return out


@pytest.mark.parametrize("row,arg,value", _arg_params())
def test_constructor_argument_changes_behaviour_or_raises(row, arg, value):
    check_argument(row, arg, value)


def _keras():
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the Keras oracle runs on the torch backend")
    return keras


def _keras_params():
    out = []
    for r in ROWS:
        if None in r.keras_skip:
            continue
        cases = [(None, None)] + [(a, v) for a, v in r.args.items() if not isinstance(v, Raises)]
        for arg, value in cases:
            if arg in r.keras_skip or isinstance(value, layers.Layer):
                continue
            out.append(pytest.param(r, {} if arg is None else {arg: value},
                                    id=f"{r.name}-{arg or 'defaults'}"))
    return out


@pytest.mark.parametrize("row,overrides", _keras_params())
def test_same_outputs_as_keras(row, overrides):
    if row.cls.__name__ == "STFTSpectrogram":
        pytest.importorskip("scipy")  # Keras's STFT windows come from scipy
    """Optional (needs keras + torch): the row, and each argument's non-default value,
    against Keras 3 built from fastnet's config."""
    check_keras_parity(row, _keras(), overrides)


# ---- the harness catches what it is for (each check fails on a layer broken that way) -------

class _Scale(layers.Layer):
    """A correct little layer; the subclasses below each break one contract."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class _IgnoresFactor(_Scale):
    def call(self, inputs):
        return inputs * 2.0


class _WrongOutputShape(_Scale):
    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] + 1,)


class _WrongGradient(_Scale):
    def call(self, inputs):  # d/dx of x * x is 2x; with one factor stopped the tape says x
        return inputs * fastnet.ops.stop_gradient(inputs)


class _ConfigDropsFactor(_Scale):
    def get_config(self):
        return layers.Layer.get_config(self)


def test_harness_accepts_a_correct_layer():
    row = Row(_Scale, {}, (2, 3), args={"factor": 3.0})
    check_symbolic(row)
    check_config(row)
    check_input_gradient(row)
    check_argument(row, "factor", 3.0)


@pytest.mark.parametrize("cls,check", [
    (_IgnoresFactor, lambda row: check_argument(row, "factor", 3.0)),
    (_WrongOutputShape, check_symbolic),
    (_WrongGradient, check_input_gradient),
    (_ConfigDropsFactor, lambda row: check_argument(row, "factor", 3.0)),
])
def test_harness_fails_a_broken_layer(cls, check):
    with pytest.raises(AssertionError):
        check(Row(cls, {}, (2, 3)))


def test_harness_fails_an_argument_that_raises_without_naming_itself():
    class Refuses(_Scale):
        def __init__(self, factor=2.0, **kwargs):
            if factor != 2.0:
                raise ValueError("bad value")
            super().__init__(factor, **kwargs)

    with pytest.raises(AssertionError, match="without naming"):
        check_argument(Row(Refuses, {}, (2, 3)), "factor", Raises(3.0))


# Rows whose float64 build is wrong today, with the reason; a row listed here that starts
# passing fails the test below, so the list only shrinks.
DTYPE_GAPS: dict = {}  # rows whose dtype= is neither computed nor refused yet: none left
# Classes whose every configuration may show the gap (rows are added often)
DTYPE_CLASS_GAPS: dict = {}


def _bidirectional_outputs(layer, i):
    """Keras casts Bidirectional's outputs (not its states) to the wrapper's dtype."""
    return "float64" if i < (2 if layer.merge_mode is None else 1) else "float32"


# Rows where Keras itself computes in the wrapped layers' own dtype (float32 weights) and
# gives these output dtypes (Keras 3.15, torch backend): (output dtype rule, weight dtype)
DTYPE_AS_KERAS = {
    "RNN": (lambda layer, i: "float64", "float32"),  # the cell keeps float32 weights
    "RNN-stacked-GRU-reset_before": (lambda layer, i: "float64", "float32"),
    "StackedRNNCells": (lambda layer, i: "float32", "float32"),  # the cells' own dtype
    "Bidirectional": (_bidirectional_outputs, "float32"),
}
# Rows where Keras itself gives something else than "outputs in the layer's dtype"
DTYPE_NOT_APPLICABLE = {
    "TimeDistributed": "the wrapped layer keeps its own dtype: Keras outputs float32 too",
    "Hashing": "output_mode='int' needs an integer dtype: Keras raises ValueError as well",
    "SpectralNormalization": "the wrapped layer keeps its own dtype (as TimeDistributed)",
    "SpectralNormalization-conv": "the wrapped layer keeps its own dtype (as TimeDistributed)",
    "Pipeline": "each layer of the pipeline keeps its own dtype",
    "TextVectorization-multi_hot": "Keras's TextVectorization computes in 'string' and its "
                                   "StringLookup gets no dtype: multi_hot is floatx (float32)",
}


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in ROWS
                                 if r.name not in DTYPE_NOT_APPLICABLE])
def test_dtype_float64_is_computed_or_refused(row):
    rule = DTYPE_AS_KERAS.get(row.name) or DTYPE_AS_KERAS.get(row.cls.__name__)
    if rule is not None:
        check_dtype(row, output_dtype=rule[0], weight_dtype=rule[1])
        return
    check_dtype(row)


def test_autocast_follows_keras():
    x32 = np.random.default_rng(0).random((2, 3, 2)).astype(np.float32)
    assert str(layers.Flatten(dtype="float64")(x32).dtype) == "float64"
    t64 = ops.convert_to_tensor(x32, dtype="float64")
    assert str(layers.Flatten()(t64).dtype) == "float32"
    assert str(layers.Flatten(autocast=False)(t64).dtype) == "float64"
    ids = np.array([[1, 2]], np.int64)  # integer inputs are never cast
    assert str(layers.Embedding(5, 2)(ids).dtype) == "float32"
    assert str(layers.Lambda(lambda t: t)(ids).dtype) == "int64"
