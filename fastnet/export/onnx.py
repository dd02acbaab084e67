"""model.export(path, format="onnx"): a Sequential or functional model of built-in layers
as an ONNX graph (opset 17 by default), through the `onnx` package (an optional extra:
``pip install "fastnet-cpu[onnx]"``).

Tensors stay channels-last as in fastnet; convolutions and pooling are wrapped in
transposes to ONNX's channels-first. The batch dimension (and any other None dimension)
is symbolic. Weights are stored as initializers; layers behave as in inference
(Dropout is the identity, BatchNormalization uses its moving statistics).
"""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np

DEFAULT_OPSET = 17
_EXTRA_HINT = ("Exporting to ONNX needs the `onnx` package, which is not installed. Install it "
               "with `pip install \"fastnet-cpu[onnx]\"` (or `pip install onnx`).")


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as e:
        raise ImportError(_EXTRA_HINT) from e
    return onnx, helper, numpy_helper


class _Graph:
    """Collects nodes and initializers with unique names."""

    def __init__(self, opset):
        self.onnx, self.helper, self.numpy_helper = _onnx()
        self.opset = opset
        self.nodes, self.initializers = [], []
        self._used = set()

    def name(self, hint):
        hint = hint.replace(":", "_")
        name, i = hint, 1
        while name in self._used:
            name, i = f"{hint}_{i}", i + 1
        self._used.add(name)
        return name

    def const(self, hint, value, dtype=np.float32):
        name = self.name(hint)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value, dtype=dtype),
                                                              name))
        return name

    def op(self, op_type, inputs, hint, n_out=1, **attrs):
        outs = [self.name(f"{hint}/{op_type}" + (f"_{k}" if n_out > 1 else ""))
                for k in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs,
                                                name=self.name(f"{hint}/{op_type}_node"),
                                                **attrs))
        return outs[0] if n_out == 1 else outs

    def reduce(self, op_type, x, axes, keepdims, hint):
        if self.opset >= 18:  # axes became an input in opset 18
            return self.op(op_type, [x, self.const(f"{hint}/axes", axes, np.int64)], hint,
                           keepdims=int(keepdims))
        return self.op(op_type, [x], hint, axes=list(axes), keepdims=int(keepdims))


# ---- activations --------------------------------------------------------------------------

def _activation_name(fn):
    """The built-in activation `fn` is: a keras.activations function, or the keras.ops
    function of that name (ops.gelu is the tanh approximation by default, as Keras's)."""
    from fastnet import activations, ops

    for name, f in activations._ALL.items():
        if f is fn:
            return name
    for name in ("relu", "leaky_relu", "elu", "softmax", "log_softmax", "mish"):
        if getattr(ops, name, None) is fn:
            return name
    if fn is ops.gelu:
        return "gelu_approximate"
    return None


def _activation(g, x, fn, hint, owner, last_dim=None):
    name = _activation_name(fn)
    if name is None:
        raise NotImplementedError(f"ONNX export: the activation {fn!r} of layer {owner!r} is "
                                  "not a built-in fastnet activation")
    return _named_activation(g, x, name, hint, owner=owner, last_dim=last_dim)


def _named_activation(g, x, name, hint, axis=-1, owner=None, last_dim=None):
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus",
              "softsign": "Softsign", "exponential": "Exp"}

    def c(tag, value):
        return g.const(f"{hint}/{tag}", value)

    def mul(a, b):
        return g.op("Mul", [a, b], hint)

    def add(a, b):
        return g.op("Add", [a, b], hint)

    def clip(a, lo, hi):
        return g.op("Clip", [a, c("lo", lo), c("hi", hi)], hint)

    if name == "linear":
        return x
    if name in simple:
        return g.op(simple[name], [x], hint)
    if name == "softmax":
        return g.op("Softmax", [x], hint, axis=axis)
    if name == "log_softmax":
        return g.op("LogSoftmax", [x], hint, axis=axis)
    if name == "relu6":
        return clip(x, 0.0, 6.0)
    if name == "leaky_relu":
        return g.op("LeakyRelu", [x], hint, alpha=0.2)
    if name == "elu":
        return g.op("Elu", [x], hint, alpha=1.0)
    if name == "selu":
        return g.op("Selu", [x], hint, alpha=1.6732632423543772, gamma=1.0507009873554805)
    if name == "celu":
        return g.op("Celu", [x], hint, alpha=1.0)
    if name == "hard_sigmoid":  # Keras 3: relu6(x + 3) / 6
        return g.op("HardSigmoid", [x], hint, alpha=1.0 / 6.0, beta=0.5)
    if name in ("silu", "swish"):
        return mul(x, g.op("Sigmoid", [x], hint))
    if name in ("hard_silu", "hard_swish"):
        return mul(x, g.op("HardSigmoid", [x], hint, alpha=1.0 / 6.0, beta=0.5))
    if name == "mish":
        return mul(x, g.op("Tanh", [g.op("Softplus", [x], hint)], hint))
    if name == "gelu":  # exact: x * (1 + erf(x / sqrt(2))) / 2
        erf = g.op("Erf", [mul(x, c("rsqrt2", 1 / math.sqrt(2)))], hint)
        return mul(mul(x, c("half", 0.5)), add(erf, c("one", 1.0)))
    if name == "gelu_approximate":  # x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) / 2
        cube = mul(mul(x, x), x)
        inner = mul(add(x, mul(cube, c("k", 0.044715))), c("s", math.sqrt(2 / math.pi)))
        return mul(mul(x, c("half", 0.5)), add(g.op("Tanh", [inner], hint), c("one", 1.0)))
    if name == "hard_tanh":
        return clip(x, -1.0, 1.0)
    if name == "hard_shrink":  # x where |x| > 0.5, else 0
        return g.op("Shrink", [x], hint, lambd=0.5, bias=0.0)
    if name == "soft_shrink":
        return g.op("Shrink", [x], hint, lambd=0.5, bias=0.5)
    if name == "log_sigmoid":  # -softplus(-x)
        return g.op("Neg", [g.op("Softplus", [g.op("Neg", [x], hint)], hint)], hint)
    if name == "tanh_shrink":
        return g.op("Sub", [x, g.op("Tanh", [x], hint)], hint)
    if name == "squareplus":  # (x + sqrt(x^2 + 4)) / 2
        root = g.op("Sqrt", [add(mul(x, x), c("b", 4.0))], hint)
        return mul(add(x, root), c("half", 0.5))
    if name == "sparse_sigmoid":  # clip((x + 1) / 2, 0, 1)
        return clip(mul(add(x, c("one", 1.0)), c("half", 0.5)), 0.0, 1.0)
    if name == "sparse_plus":  # 0 below -1, (x + 1)^2 / 4 on [-1, 1], x above 1
        q = add(clip(x, -1.0, 1.0), c("one", 1.0))
        over = g.op("Relu", [g.op("Sub", [x, c("one_", 1.0)], hint)], hint)
        return add(mul(mul(q, q), c("quarter", 0.25)), over)
    if name == "glu":  # a * sigmoid(b), a and b the halves of the last axis
        if last_dim is None or last_dim % 2:
            raise NotImplementedError(f"ONNX export: activation 'glu' of layer {owner!r} "
                                      f"needs an even last dimension; it has {last_dim}")
        a, b = g.op("Split", [x, g.const(f"{hint}/split", [last_dim // 2] * 2, np.int64)],
                    hint, n_out=2, axis=-1)
        return mul(a, g.op("Sigmoid", [b], hint))
    if name == "sparsemax":
        return _sparsemax(g, x, hint, owner, last_dim)
    raise NotImplementedError(f"ONNX export: activation {name!r} of layer {owner!r} is not "
                              "supported" + (" (it has required arguments: threshold and "
                                             "default_value)" if name == "threshold" else ""))


def _sparsemax(g, x, hint, owner, d):
    """sparsemax over the last axis (of static size d): z sorted down (TopK), the support
    1 + k z_(k) > cumsum_k, tau = (sum of the support - 1) / |support|, relu(x - tau)."""
    if d is None:
        raise NotImplementedError(f"ONNX export: activation 'sparsemax' of layer {owner!r} "
                                  "needs a known last dimension")

    def c(tag, value, dtype=np.float32):
        return g.const(f"{hint}/{tag}", value, dtype)

    srt, _ = g.op("TopK", [x, c("k", [d], np.int64)], hint, n_out=2, axis=-1, largest=1,
                  sorted=1)
    csum = g.op("CumSum", [srt, c("axis", -1, np.int64)], hint)
    ks = c("range", np.arange(1, d + 1, dtype=np.float32))
    one = c("one", 1.0)
    support = g.op("Cast", [g.op("Greater", [g.op("Add", [one, g.op("Mul", [ks, srt], hint)],
                                                  hint), csum], hint)],
                   hint, to=g.onnx.TensorProto.FLOAT)
    axes = c("axes", [-1], np.int64)  # ReduceSum takes its axes as an input from opset 13 on
    k = g.op("ReduceSum", [support, axes], hint, keepdims=1)
    total = g.op("ReduceSum", [g.op("Mul", [support, srt], hint), axes], hint, keepdims=1)
    tau = g.op("Div", [g.op("Sub", [total, one], hint), k], hint)
    return g.op("Relu", [g.op("Sub", [x, tau], hint)], hint)


# ---- layers -------------------------------------------------------------------------------

def _to_channels_first(g, x, rank, hint):
    return g.op("Transpose", [x], hint, perm=[0, rank + 1] + list(range(1, rank + 1)))


def _to_channels_last(g, x, rank, hint):
    return g.op("Transpose", [x], hint, perm=[0] + list(range(2, rank + 2)) + [1])


def _conv(g, layer, x, hint):
    from fastnet.layers import DepthwiseConv2D

    rank = layer.rank
    kernel = np.asarray(layer.kernel.numpy())
    if isinstance(layer, DepthwiseConv2D):  # (kh, kw, cin, m) -> (cin*m, 1, kh, kw)
        cin, mult = kernel.shape[-2], kernel.shape[-1]
        w = np.moveaxis(kernel.reshape(kernel.shape[:rank] + (cin * mult,)), -1, 0)[:, None]
        group = cin
    else:  # (k..., cin/groups, cout) -> (cout, cin/groups, k...)
        w = np.transpose(kernel, (rank + 1, rank) + tuple(range(rank)))
        group = 1  # the kernel holds every input channel (fastnet's Conv computes groups=1)
    inputs = [_to_channels_first(g, x, rank, hint), g.const(f"{hint}/kernel", w)]
    if layer.use_bias:
        inputs.append(g.const(f"{hint}/bias", layer.bias.numpy()))
    attrs = dict(kernel_shape=list(kernel.shape[:rank]), strides=list(layer.strides),
                 dilations=list(layer.dilation_rate), group=int(group))
    if layer.padding == "same":
        attrs["auto_pad"] = "SAME_UPPER"  # TensorFlow's 'same': the odd extra after
    elif layer.padding == "causal":
        left = (kernel.shape[0] - 1) * layer.dilation_rate[0]
        attrs["pads"] = [left, 0]
    else:
        attrs["pads"] = [0] * (2 * rank)
    y = _to_channels_last(g, g.op("Conv", inputs, hint, **attrs), rank, hint)
    return _activation(g, y, layer.activation, hint, layer.name, last_dim=int(w.shape[0]))


def _pool(g, layer, x, hint):
    rank = layer.rank
    attrs = dict(kernel_shape=list(layer.pool_size), strides=list(layer.strides))
    attrs["auto_pad"] = "SAME_UPPER" if layer.padding == "same" else "VALID"
    op_type = "MaxPool" if layer.kind == "max" else "AveragePool"
    if op_type == "AveragePool":
        attrs["count_include_pad"] = 0  # TensorFlow averages over the real pixels only
    y = g.op(op_type, [_to_channels_first(g, x, rank, hint)], hint, **attrs)
    return _to_channels_last(g, y, rank, hint)


def _batch_norm(g, layer, x, hint, in_rank):
    axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
    axis = axis % in_rank
    mean = layer.moving_mean.numpy().astype(np.float64)
    var = layer.moving_variance.numpy().astype(np.float64)
    gamma = layer.gamma.numpy() if layer.scale else np.ones_like(mean)
    beta = layer.beta.numpy() if layer.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + layer.epsilon)
    shift = beta - mean * scale
    shape = [1] * in_rank
    shape[axis] = -1
    y = g.op("Mul", [x, g.const(f"{hint}/scale", scale.reshape(shape))], hint)
    return g.op("Add", [y, g.const(f"{hint}/shift", shift.reshape(shape))], hint)


def _layer_norm(g, layer, x, hint, in_rank):
    axes = sorted(a % in_rank for a in (layer.axis if isinstance(layer.axis, (list, tuple))
                                        else [layer.axis]))
    if axes != list(range(axes[0], in_rank)):
        raise NotImplementedError(f"ONNX export: LayerNormalization {layer.name!r} normalizes "
                                  f"over axes {layer.axis}; ONNX normalizes trailing axes only")
    shape = [int(s) for s in layer.gamma.shape] if layer.scale else None
    n = int(np.prod(shape)) if shape else None
    gamma = layer.gamma.numpy() if layer.scale else None
    beta = layer.beta.numpy() if layer.center else None
    if gamma is None:
        gamma = np.ones(n or 1, np.float32)
    inputs = [x, g.const(f"{hint}/gamma", gamma)]
    if beta is not None:
        inputs.append(g.const(f"{hint}/beta", beta))
    return g.op("LayerNormalization", inputs, hint, axis=axes[0], epsilon=float(layer.epsilon))


def _convert(g, layer, ins, hint, in_shapes):
    """ONNX nodes for one call of `layer` on the tensors named `ins`; returns output names."""
    from fastnet import layers as L
    from fastnet.layers.conv import BaseConv
    from fastnet.layers.pooling import _GlobalPooling, _Pooling

    x = ins[0] if ins else None
    rank_in = len(in_shapes[0]) if in_shapes else 0
    unsupported = (L.Conv2DTranspose, L.SeparableConv2D, L.Lambda)
    if isinstance(layer, unsupported) or type(layer).__module__.startswith("fastnet.layers.rnn"):
        raise NotImplementedError(f"ONNX export: layer {layer.name!r} of type "
                                  f"{type(layer).__name__} is not supported yet")
    if isinstance(layer, L.Dense):
        y = g.op("MatMul", [x, g.const(f"{hint}/kernel", layer.kernel.numpy())], hint)
        if layer.use_bias:
            y = g.op("Add", [y, g.const(f"{hint}/bias", layer.bias.numpy())], hint)
        return [_activation(g, y, layer.activation, hint, layer.name, last_dim=layer.units)]
    if isinstance(layer, L.Activation):
        last = in_shapes[0][-1] if in_shapes and in_shapes[0] else None
        return [_activation(g, x, layer.activation, hint, layer.name,
                            last_dim=None if last is None else int(last))]
    if isinstance(layer, L.Dropout):
        return [x]
    if isinstance(layer, L.Flatten):
        return [g.op("Reshape", [x, g.const(f"{hint}/shape", [0, -1], np.int64)], hint)]
    if isinstance(layer, L.Reshape):
        shape = [0] + [int(s) for s in layer.target_shape]
        return [g.op("Reshape", [x, g.const(f"{hint}/shape", shape, np.int64)], hint)]
    if isinstance(layer, L.Permute):
        return [g.op("Transpose", [x], hint, perm=[0] + [int(d) for d in layer.dims])]
    if isinstance(layer, L.Embedding):
        idx = g.op("Cast", [x], hint, to=g.onnx.TensorProto.INT64)
        return [g.op("Gather", [g.const(f"{hint}/embeddings", layer.embeddings.numpy()), idx],
                     hint, axis=0)]
    if isinstance(layer, BaseConv):
        return [_conv(g, layer, x, hint)]
    if isinstance(layer, _Pooling):
        return [_pool(g, layer, x, hint)]
    if isinstance(layer, _GlobalPooling):
        op_type = "ReduceMax" if layer.kind == "max" else "ReduceMean"
        return [g.reduce(op_type, x, list(range(1, layer.rank + 1)), layer.keepdims, hint)]
    if isinstance(layer, L.BatchNormalization):
        return [_batch_norm(g, layer, x, hint, rank_in)]
    if isinstance(layer, L.LayerNormalization):
        return [_layer_norm(g, layer, x, hint, rank_in)]
    if isinstance(layer, L.ReLU):
        if layer.threshold:
            raise NotImplementedError(f"ONNX export: ReLU {layer.name!r} with a threshold")
        y = g.op("LeakyRelu", [x], hint, alpha=float(layer.negative_slope)) \
            if layer.negative_slope else g.op("Relu", [x], hint)
        if layer.max_value is not None:
            y = g.op("Clip", [y, "", g.const(f"{hint}/max", float(layer.max_value))], hint)
        return [y]
    if isinstance(layer, L.LeakyReLU):
        return [g.op("LeakyRelu", [x], hint, alpha=float(layer.negative_slope))]
    if isinstance(layer, L.ELU):
        return [g.op("Elu", [x], hint, alpha=float(layer.alpha))]
    if isinstance(layer, L.Softmax):
        axis = layer.axis if isinstance(layer.axis, int) else None
        if axis is None:
            raise NotImplementedError(f"ONNX export: Softmax {layer.name!r} over several axes")
        return [g.op("Softmax", [x], hint, axis=axis)]
    if isinstance(layer, L.PReLU):
        return [g.op("PRelu", [x, g.const(f"{hint}/alpha", layer.alpha.numpy())], hint)]
    merges = {L.Add: "Sum", L.Average: "Mean", L.Maximum: "Max", L.Minimum: "Min"}
    for cls, op_type in merges.items():
        if type(layer) is cls:
            return [g.op(op_type, ins, hint)]
    if type(layer) is L.Subtract:
        return [g.op("Sub", ins, hint)]
    if type(layer) is L.Multiply:
        y = ins[0]
        for other in ins[1:]:
            y = g.op("Mul", [y, other], hint)
        return [y]
    if type(layer) is L.Concatenate:
        return [g.op("Concat", ins, hint, axis=int(layer.axis))]
    if isinstance(layer, L.UpSampling1D) or isinstance(layer, L.UpSampling2D) \
            or isinstance(layer, L.UpSampling3D):
        scales = [1.0] + [float(s) for s in layer.size] + [1.0]
        return [g.op("Resize", [x, "", g.const(f"{hint}/scales", scales)], hint, mode="nearest",
                     coordinate_transformation_mode="asymmetric", nearest_mode="floor")]
    if isinstance(layer, (L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D)):
        before = [0] + [int(p[0]) for p in layer.padding] + [0]
        after = [0] + [int(p[1]) for p in layer.padding] + [0]
        return [g.op("Pad", [x, g.const(f"{hint}/pads", before + after, np.int64)], hint)]
    raise NotImplementedError(f"ONNX export: layer {layer.name!r} of type "
                              f"{type(layer).__name__} is not supported yet")


# ---- the graph ----------------------------------------------------------------------------

def _functional_of(model):
    from fastnet.models.functional import Functional
    from fastnet.models.sequential import Sequential

    if isinstance(model, Sequential):
        if model._graph is None:
            raise ValueError(f"ONNX export: Sequential model {model.name!r} has no known input "
                             "shape; give it an Input or call build(input_shape) first")
        return model._graph
    if isinstance(model, Functional):
        return model
    raise ValueError(f"ONNX export supports Sequential and functional models; "
                     f"{type(model).__name__} {model.name!r} is a subclassed model")


def _emit(g, model, names, prefix):
    """Adds `model`'s layers to `g`; `names` maps id(KerasTensor) -> ONNX tensor name."""
    from fastnet.models.functional import Functional
    from fastnet.models.sequential import Sequential

    graph = _functional_of(model)
    for node in graph._nodes:
        layer = node.operation
        ins = [names[id(t)] for t in node.input_tensors]
        hint = prefix + layer.name
        if isinstance(layer, (Functional, Sequential)):  # a nested model: inline its graph
            inner = _functional_of(layer)
            inner_names = {id(t): n for t, n in zip(inner._inputs, ins)}
            _emit(g, inner, inner_names, hint + "/")
            outs = [inner_names[id(t)] for t in inner._outputs]
        else:
            outs = _convert(g, layer, ins, hint, [t.shape for t in node.input_tensors])
        for kt, name in zip(node.outputs, outs):
            names[id(kt)] = name


def _dims(shape, name):
    return ["batch" if i == 0 and d is None else (f"{name}_dim{i}" if d is None else int(d))
            for i, d in enumerate(shape)]


def _elem_type(onnx, dtype):
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def export_onnx(model, filepath, verbose=None, input_signature=None, opset_version=None,
                **kwargs):
    if kwargs:
        raise TypeError(f"export(format='onnx'): unrecognized keyword argument(s): "
                        f"{sorted(kwargs)}")
    if input_signature is not None:
        raise ValueError("export(format='onnx'): `input_signature` is not supported; the "
                         "model's own input shapes are used (None dimensions stay dynamic)")
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset < 17:
        raise ValueError(f"export(format='onnx'): opset_version must be >= 17 (LayerNormalization"
                         f"). Received: opset_version={opset_version}")
    graph = _functional_of(model)
    g = _Graph(opset)
    onnx, helper = g.onnx, g.helper
    names, inputs = {}, []
    for kt in graph._inputs:
        layer = kt._keras_history[0]
        name = g.name(layer.name)
        names[id(kt)] = name
        inputs.append(helper.make_tensor_value_info(name, _elem_type(onnx, kt.dtype),
                                                    _dims(kt.shape, name)))
    _emit(g, graph, names, "")
    outputs, used = [], set()
    for kt in graph._outputs:
        base = kt._keras_history[0].name
        out_name = g.name(base if base not in used else f"{base}_out")
        used.add(base)
        g.nodes.append(helper.make_node("Identity", [names[id(kt)]], [out_name],
                                        name=g.name(f"{out_name}/output")))
        outputs.append(helper.make_tensor_value_info(out_name, _elem_type(onnx, "float32"),
                                                     _dims(kt.shape, out_name)))
    onnx_graph = helper.make_graph(g.nodes, model.name, inputs, outputs, g.initializers)
    proto = helper.make_model(onnx_graph, producer_name="fastnet",
                              opset_imports=[helper.make_opsetid("", opset)])
    if opset <= 18:
        proto.ir_version = 8  # the IR that opsets up to 18 need: older runtimes read it
    onnx.checker.check_model(proto)
    path = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".fastnet-", suffix=".onnx.tmp")
    os.close(fd)
    try:
        onnx.save(proto, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    if verbose:
        print(f"Saved the ONNX model (opset {opset}) to {path}")
    return proto
