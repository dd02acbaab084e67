"""Lowers a static graph (a Sequential's or functional model's node order) to a
``fastnet._C.Plan``: instructions over one arena, for one input signature.

Each tensor of the graph gets a buffer: a float offset into the arena (planned
by liveness: forward activations the backward needs live to the end of the step,
gradient buffers only between their first write and their last read), or an
external array (the model's outputs, the per-step inputs/targets/sample weights,
the weights' own numpy buffers and the optimizer slots, dropout masks). Reshape
and Flatten are aliases (same buffer, no instruction). Anything the plan does not
implement exactly raises ``Unsupported`` naming the layer, loss, optimizer or
option, and the trainer runs the eager path instead.
"""

from __future__ import annotations

import numpy as np

from fastnet import _C
from fastnet import activations as act_mod
from fastnet import losses as losses_mod
from fastnet import optimizers as opt_mod
from fastnet import regularizers as reg_mod
from fastnet.layers import activation as act_layers
from fastnet.layers import conv as conv_layers
from fastnet.layers import core as core_layers
from fastnet.layers import merging, reshaping, rnn_cell
from fastnet.layers import normalization as norm_layers
from fastnet.layers import pooling as pool_layers
from fastnet.layers import rnn as rnn_layers

NONE = _C.PLAN_NONE
FORWARD, LOSS, BACKWARD, UPDATE = 0, 1, 2, 3
(DENSE, ACT, DROPOUT, ADD, CONCAT, COPY, LOSS_OP, REGULARIZE, UPDATE_OP, CONV, POOL, GLOBAL_POOL,
 BATCH_NORM, CONV_TRANSPOSE, UPSAMPLE, EMBEDDING, RECURRENT) = range(17)
_OP_NAMES = ("dense", "act", "dropout", "add", "concat", "copy", "loss", "regularize", "update",
             "conv", "pool", "global_pool", "batch_norm", "conv_transpose", "upsample", "embedding",
             "recurrent")
LSTM_CELL, GRU_CELL, SIMPLE_RNN_CELL = range(3)
_RNN_ACTS = {act_mod.tanh: 0, act_mod.relu: 1, act_mod.sigmoid: 2, act_mod.linear: 3}  # rnn.h
_LIST_NAMES = ("forward", "loss", "backward", "update")
LINEAR, RELU, SIGMOID, TANH, SOFTMAX = range(5)
(SPARSE_LOGITS, SPARSE_PROBS, CCE_LOGITS, CCE_PROBS, BCE_LOGITS, BCE_PROBS, MSE,
 MAE) = range(8)
SGD, RMSPROP, ADAM = range(3)
PREDICT, EVALUATE, TRAIN = range(3)
HYPER_WIDTH = 3  # per step: lr, adam's alpha, weight_decay * lr


class Unsupported(Exception):
    """The plan cannot run this model/compile/data exactly; the message says why."""


_ACTS = {act_mod.linear: LINEAR, act_mod.relu: RELU, act_mod.sigmoid: SIGMOID,
         act_mod.tanh: TANH, act_mod.softmax: SOFTMAX}


def activation_kind(fn, where):
    kind = _ACTS.get(fn)
    if kind is None:
        name = getattr(fn, "__name__", repr(fn))
        raise Unsupported(f"{where}: activation {name!r} (the plan has linear, relu, sigmoid, "
                          "tanh, softmax)")
    return kind


# ---- losses ------------------------------------------------------------------------------
_LOSS_FNS = {losses_mod.sparse_categorical_crossentropy: "sparse",
             losses_mod.categorical_crossentropy: "categorical",
             losses_mod.binary_crossentropy: "binary",
             losses_mod.mean_squared_error: "mse", losses_mod.mean_absolute_error: "mae"}
_ALLOWED_KW = {"sparse": {"from_logits": (False, True), "ignore_class": (None,), "axis": (-1,)},
               "categorical": {"from_logits": (False, True), "label_smoothing": (0, 0.0),
                               "axis": (-1,)},
               "binary": {"from_logits": (False, True), "label_smoothing": (0, 0.0),
                          "axis": (-1,)},
               "mse": {}, "mae": {}}


def loss_family(loss, where):
    """(family, from_logits, reduction) of a compiled loss object, or Unsupported."""
    wrapper = losses_mod.LossFunctionWrapper
    if not isinstance(loss, wrapper) or type(loss).call is not wrapper.call or \
            type(loss).__call__ is not losses_mod.Loss.__call__:
        raise Unsupported(f"{where}: loss {getattr(loss, 'name', loss)!r} is not one the plan "
                          "implements (sparse_categorical_crossentropy, categorical_crossentropy,"
                          " binary_crossentropy, mse, mae)")
    family = _LOSS_FNS.get(loss.fn)
    if family is None:
        raise Unsupported(f"{where}: loss {loss.name!r} is not one the plan implements")
    allowed = _ALLOWED_KW[family]
    for k, v in loss.fn_kwargs.items():
        if k not in allowed or not any(v is a or (type(v) is type(a) and v == a)
                                       for a in allowed[k]):
            raise Unsupported(f"{where}: loss {loss.name!r} option {k}={v!r}")
    if loss.reduction not in ("sum_over_batch_size", "sum"):
        raise Unsupported(f"{where}: loss reduction {loss.reduction!r}")
    if getattr(loss, "dtype", None) not in (None, "float32"):
        raise Unsupported(f"{where}: loss dtype {loss.dtype!r}")
    return family, bool(loss.fn_kwargs.get("from_logits", False)), loss.reduction


# ---- optimizers ----------------------------------------------------------------------------
def optimizer_kind(opt):
    t = type(opt)
    kinds = {opt_mod.SGD: SGD, opt_mod.RMSprop: RMSPROP, opt_mod.Adam: ADAM,
             opt_mod.AdamW: ADAM}
    if t not in kinds:
        raise Unsupported(f"optimizer {t.__name__} (the plan has SGD, RMSprop, Adam, AdamW)")
    for opt_name in ("clipnorm", "clipvalue", "global_clipnorm"):
        if getattr(opt, opt_name) is not None:
            raise Unsupported(f"optimizer option {opt_name}={getattr(opt, opt_name)!r}")
    if opt.use_ema:
        raise Unsupported("optimizer option use_ema=True")
    for opt_name in ("gradient_accumulation_steps", "loss_scale_factor"):
        if getattr(opt, opt_name, None) is not None:
            raise Unsupported(f"optimizer option {opt_name}={getattr(opt, opt_name)!r}")
    return kinds[t]


def hyper_rows(opt, steps):
    """(steps, HYPER_WIDTH) float64: each step's learning rate, Adam's alpha and
    weight_decay * lr, as ``Optimizer.apply`` computes them for that step."""
    it0 = int(opt._iterations._value)
    out = np.zeros((steps, HYPER_WIDTH), np.float64)
    lr_obj = opt._learning_rate
    from fastnet.optimizers.schedules import LearningRateSchedule

    for s in range(steps):
        if isinstance(lr_obj, LearningRateSchedule):
            lr = float(lr_obj(it0 + s))
        else:  # a number, or a function of no arguments (read every step, as Keras)
            lr = float(np.asarray(lr_obj() if callable(lr_obj) else lr_obj))
        step = it0 + s + 1
        out[s, 0] = lr
        if isinstance(opt, opt_mod.Adam):
            out[s, 1] = lr * np.sqrt(1 - opt.beta_2 ** step) / (1 - opt.beta_1 ** step)
        if opt.weight_decay:
            out[s, 2] = opt.weight_decay * lr
    return out


# ---- the arena -----------------------------------------------------------------------------
class _Arena:
    """First-fit offsets for buffers with [first, last] use intervals (instruction
    indices); buffers whose intervals do not overlap share memory."""

    def __init__(self):
        self.bufs = []  # [size, first, last]

    def new(self, size, first):
        self.bufs.append([int(size), first, first])
        return len(self.bufs) - 1

    def use(self, b, t):
        buf = self.bufs[b]
        buf[1] = min(buf[1], t)
        buf[2] = max(buf[2], t)

    def plan(self):
        order = sorted(range(len(self.bufs)), key=lambda i: (self.bufs[i][1], -self.bufs[i][0]))
        placed = []  # (offset, size, last)
        offsets = [0] * len(self.bufs)
        top = 0
        for i in order:
            size, first, last = self.bufs[i]
            size = (size + 15) // 16 * 16  # 64-byte aligned offsets
            live = sorted((o, s) for o, s, end in placed if end >= first)
            off = 0
            for o, s in live:
                if off + size <= o:
                    break
                off = max(off, o + s)
            offsets[i] = off
            placed.append((off, size, last))
            top = max(top, off + size)
        return offsets, top


# ---- the compiler --------------------------------------------------------------------------
class _Tensor:
    __slots__ = ("shape", "size", "buf", "ext", "grad", "grad_written", "needs_grad", "alias_of",
                 "consumers")

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.size = int(np.prod(shape)) if shape else 1
        self.buf = None  # arena buffer index
        self.ext = None  # external ref
        self.grad = None  # arena buffer index of its gradient
        self.grad_written = False
        self.needs_grad = False
        self.alias_of = None
        self.consumers = 0


def graph_of(model):
    """(inputs, outputs, nodes) KerasTensors/nodes of a Sequential or functional model,
    or of a subclassed model's traced call: the trace the runner selected last for the
    batch and mode at hand (fastnet/plan/trace.py)."""
    from fastnet.models.functional import Functional
    from fastnet.models.sequential import Sequential

    if isinstance(model, Sequential):
        g = model._graph
        if g is None:
            raise Unsupported("the Sequential model is not built yet")
        return g._inputs, g._outputs, g._nodes
    if isinstance(model, Functional):
        return model._inputs, model._outputs, model._nodes
    g = model.__dict__.get("_plan_traced")
    if g is None:
        raise Unsupported(f"a subclassed model ({type(model).__name__}) whose call is not "
                          "traced yet")
    return g.inputs, g.outputs, g.nodes


def check_layers(model):
    """Raises Unsupported naming the first layer the plan cannot lower."""
    inputs, outputs, nodes = graph_of(model)
    readers = {}
    for node in nodes:
        for kt in node.input_tensors:
            readers.setdefault(id(kt), []).append(node.operation)
    for kt in inputs:
        if kt.dtype == "float32":
            continue
        # int32 indices: a stream of int32s, when only Embeddings read it
        if kt.dtype != "int32" or not all(type(r) is core_layers.Embedding
                                          for r in readers.get(id(kt), ())):
            raise Unsupported(f"input {kt._keras_history[0].name!r} has dtype {kt.dtype} (the "
                              "plan takes float32 inputs, and int32 ones read by Embeddings)")
    for node in nodes:
        layer = node.operation
        _layer_kind(layer)
        if node.call_kwargs and any(k not in ("training",) for k in node.call_kwargs):
            raise Unsupported(f"layer {layer.name!r} is called with arguments "
                              f"{sorted(node.call_kwargs)}")
        if getattr(layer, "activity_regularizer", None) is not None:
            raise Unsupported(f"layer {layer.name!r}: activity_regularizer")
        if getattr(layer, "dtype_policy", None) is not None and \
                getattr(layer.dtype_policy, "name", "float32") not in ("float32",):
            raise Unsupported(f"layer {layer.name!r}: dtype policy "
                              f"{layer.dtype_policy.name!r}")
        for w in layer._all_weights() if hasattr(layer, "_all_weights") else []:
            if w.dtype != "float32":
                raise Unsupported(f"layer {layer.name!r}: weight {w.name!r} has dtype {w.dtype}")
            if w.constraint is not None:
                raise Unsupported(f"layer {layer.name!r}: weight {w.name!r} has a constraint")
            if w.regularizer is not None and (type(w.regularizer) not in
                                              (reg_mod.L1, reg_mod.L2, reg_mod.L1L2)):
                raise Unsupported(f"layer {layer.name!r}: regularizer "
                                  f"{type(w.regularizer).__name__}")
        for kt in node.outputs:
            if kt.dtype != "float32":
                raise Unsupported(f"layer {layer.name!r} outputs dtype {kt.dtype}")


def _layer_kind(layer):
    t = type(layer)
    if getattr(layer, "lora_enabled", False):
        raise Unsupported(f"{t.__name__} {layer.name!r} with LoRA enabled")
    if t is core_layers.Dense:
        activation_kind(layer.activation, f"Dense {layer.name!r}")
        return "dense"
    if t is core_layers.Activation:
        activation_kind(layer.activation, f"Activation {layer.name!r}")
        return "act"
    if t is act_layers.ReLU:
        if layer.max_value is not None or layer.negative_slope or layer.threshold:
            raise Unsupported(f"ReLU {layer.name!r} with max_value/negative_slope/threshold")
        return "relu"
    if t is core_layers.Dropout:
        if layer.noise_shape is not None:
            raise Unsupported(f"Dropout {layer.name!r} with noise_shape")
        return "dropout"
    if t is core_layers.Flatten:
        if layer.data_format == "channels_first":
            raise Unsupported(f"Flatten {layer.name!r} with data_format='channels_first'")
        return "alias"
    if t is core_layers.Reshape:
        return "alias"
    if t is conv_layers.Conv2D:
        if layer.data_format != "channels_last" or layer.groups != 1 or \
                layer.padding not in ("valid", "same"):
            raise Unsupported(f"Conv2D {layer.name!r} with data_format={layer.data_format!r}, "
                              f"groups={layer.groups}, padding={layer.padding!r}")
        if activation_kind(layer.activation, f"Conv2D {layer.name!r}") == SOFTMAX:
            raise Unsupported(f"Conv2D {layer.name!r} with a softmax activation")
        return "conv"
    if t is conv_layers.Conv2DTranspose:
        if layer.data_format != "channels_last" or layer.padding not in ("valid", "same") or \
                layer.output_padding is not None:
            raise Unsupported(f"Conv2DTranspose {layer.name!r} with data_format="
                              f"{layer.data_format!r}, padding={layer.padding!r}, "
                              f"output_padding={layer.output_padding}")
        if activation_kind(layer.activation, f"Conv2DTranspose {layer.name!r}") == SOFTMAX:
            raise Unsupported(f"Conv2DTranspose {layer.name!r} with a softmax activation")
        return "convt"
    if t is reshaping.UpSampling2D:
        if layer.data_format != "channels_last":
            raise Unsupported(f"UpSampling2D {layer.name!r} with data_format='channels_first'")
        return "up"
    if t in (pool_layers.MaxPooling2D, pool_layers.AveragePooling2D):
        if layer.data_format != "channels_last":
            raise Unsupported(f"{t.__name__} {layer.name!r} with data_format='channels_first'")
        return "pool"
    if t in (pool_layers.GlobalMaxPooling2D, pool_layers.GlobalAveragePooling2D):
        if layer.data_format != "channels_last":
            raise Unsupported(f"{t.__name__} {layer.name!r} with data_format='channels_first'")
        return "gpool"
    if t is norm_layers.BatchNormalization:
        return "bn"
    if t is merging.Add:
        return "add"
    if t is merging.Concatenate:
        return "concat"
    if t is core_layers.Embedding:
        if layer.mask_zero:
            raise Unsupported(f"Embedding {layer.name!r} with mask_zero=True (the plan has no "
                              "masks)")
        return "embedding"
    if t in (rnn_layers.LSTM, rnn_layers.GRU, rnn_layers.SimpleRNN):
        _check_recurrent(layer)
        return "rnn"
    raise Unsupported(f"layer {layer.name!r} ({t.__name__}) is not one the plan lowers")


_RNN_CELLS = {rnn_layers.LSTM: (rnn_cell.LSTMCell, LSTM_CELL, 4, 2, 7),
              rnn_layers.GRU: (rnn_cell.GRUCell, GRU_CELL, 3, 1, 5),
              rnn_layers.SimpleRNN: (rnn_cell.SimpleRNNCell, SIMPLE_RNN_CELL, 1, 1, 2)}
# cell, kind, gates, final states in `packed`, workspace floats per (row, step, unit): csrc/rnn


def _check_recurrent(layer):
    """An LSTM/GRU/SimpleRNN the plan runs on the eager layer's own sequence kernel:
    tanh/sigmoid (SimpleRNN: tanh, relu, sigmoid or linear), (GRU) reset_after, no
    dropout, no states in or out, forwards, not stateful."""
    name = f"{type(layer).__name__} {layer.name!r}"
    cell = layer.cell
    if type(cell) is not _RNN_CELLS[type(layer)][0]:
        raise Unsupported(f"{name}: cell {type(cell).__name__}")
    if type(layer) is rnn_layers.SimpleRNN:
        if cell.activation not in _RNN_ACTS:
            raise Unsupported(f"{name}: activation other than tanh, relu, sigmoid, linear")
    elif cell.activation is not act_mod.tanh or cell.recurrent_activation is not act_mod.sigmoid:
        raise Unsupported(f"{name}: activation/recurrent_activation other than tanh/sigmoid")
    if type(layer) is rnn_layers.GRU and not cell.reset_after:
        raise Unsupported(f"{name} with reset_after=False")
    for opt in ("dropout", "recurrent_dropout"):
        if getattr(cell, opt):
            raise Unsupported(f"{name} with {opt}={getattr(cell, opt)}")
    for opt in ("return_state", "go_backwards", "stateful"):
        if getattr(layer, opt):
            raise Unsupported(f"{name} with {opt}=True")


class PlanBuild:
    """The result of compiling: the C++ plan and what the runner needs to feed it."""

    def __init__(self):
        self.plan = _C.Plan()
        self.streams = []  # (kind, index) per stream: ("x", i), ("y", i), ("sw", i)
        self.bound = []  # (array, ext index) bound arrays (weights, slots) to re-check
        self.masks = []  # (layer, ext index, size) dropout masks, in forward order
        self.outputs = []  # (ext index, shape) per model output
        self.out_arrays = []
        self.max_steps = 0
        self.weights = []  # trainable Variables updated
        self.label_checks = []  # (output index, classes) sparse labels to range-check
        self.n_outputs = 0
        self.labels = ([], [], [], [])
        self.cropped = {}  # layer -> (shape, the extent the plan computes), see _crop_and_fuse
        self.relu_under_max_pool = []  # ReLU convs whose mask the max pooling's backward applies  # per instruction list, the layer/weight of each

    def profile(self):
        """[(list, layer, op, seconds, calls)] per instruction since profiling was turned on
        (``plan.set_profiling(True)``), in execution order."""
        names = [n for lst in self.labels for n in lst]
        return [(_LIST_NAMES[lst], name, _OP_NAMES[op], sec, calls)
                for (lst, op, sec, calls), name in zip(self.plan.profile(), names)]


def build(model, mode, batch, n_steps, targets=None, sample_weight=False, input_shapes=None):
    """Compiles `model` for `mode` (PREDICT/EVALUATE/TRAIN) at batch size `batch`.

    `targets`: per output (family, kind, from_logits, reduction, loss_weight, target
    shape kind) for EVALUATE/TRAIN. `input_shapes`: the inputs' shapes (with the batch),
    which fix the lengths of `None` axes (a sequence's time steps): a plan is built per
    input signature. Raises Unsupported."""
    inputs, outputs, nodes = graph_of(model)
    check_layers(model)
    pb = PlanBuild()
    plan = pb.plan
    tensors = {}
    arena = _Arena()
    t_clock = [0]  # instruction counter for liveness

    concrete = {}  # id(KerasTensor) -> its shape in this signature, where it has None axes
    for kt, shp in zip(inputs, input_shapes or ()):
        concrete[id(kt)] = (batch,) + tuple(int(v) for v in shp[1:])

    def shape_of(kt):
        shp = concrete.get(id(kt))
        if shp is not None:
            return shp
        shp = tuple(kt.shape)
        if not shp or any(s is None for s in shp[1:]):
            raise Unsupported(f"tensor {kt.name if hasattr(kt, 'name') else kt} has unknown "
                              f"shape {shp}")
        return (batch,) + shp[1:]

    def T(kt):
        t = tensors.get(id(kt))
        if t is None:
            t = tensors[id(kt)] = _Tensor(shape_of(kt))
        return t

    def root(t):
        while t.alias_of is not None:
            t = t.alias_of
        return t

    training = mode == TRAIN
    # inputs: per-step streams
    int_streams = set()  # id(_Tensor) of the int32 input streams (Embedding indices)
    for i, kt in enumerate(inputs):
        t = T(kt)
        k = plan.add_external(0, t.size, 1 if kt.dtype == "int32" else 0, f"x[{i}]")
        t.ext = -(1 + k)
        if kt.dtype == "int32":
            int_streams.add(id(t))
        pb.streams.append(("x", i, k))

    # first pass: kinds, consumers, which tensors need gradients
    trainable_ids = {id(w) for w in model.trainable_weights} if training else set()
    lowered = []
    for node in nodes:
        layer = node.operation
        kind = _layer_kind(layer)
        ins = [T(kt) for kt in node.input_tensors]
        _infer_shapes(node, ins, concrete)
        outs = [T(kt) for kt in node.outputs]
        if len(outs) != 1:
            raise Unsupported(f"layer {layer.name!r} has {len(outs)} outputs")
        for t in ins:
            t.consumers += 1
        own = [w for w in (layer.trainable_weights if training else []) if id(w) in trainable_ids]
        out = outs[0]
        out.needs_grad = training and (bool(own) or any(t.needs_grad for t in ins))
        if kind == "dropout" and (not training or layer.rate == 0):
            kind = "alias"
        if kind == "alias":
            if out.size != ins[0].size:
                raise Unsupported(f"layer {layer.name!r}: reshape of {ins[0].shape} to "
                                  f"{out.shape}")
            out.alias_of = ins[0]
        if kind == "add":
            if any(t.shape != out.shape for t in ins) or len(ins) < 2:
                raise Unsupported(f"Add {layer.name!r} with broadcasting shapes "
                                  f"{[t.shape for t in ins]}")
        if kind == "concat":
            if (layer.axis % len(out.shape)) != len(out.shape) - 1:
                raise Unsupported(f"Concatenate {layer.name!r} on axis {layer.axis} (the plan "
                                  "concatenates on the last axis)")
        lowered.append((node, layer, kind, ins, out))

    out_ts = [T(kt) for kt in outputs]
    for t in out_ts:
        if root(t).ext is not None:
            raise Unsupported("a model output is one of its inputs (or two outputs share a "
                              "tensor)")
    relu_pooled, pb.cropped = _crop_and_fuse(lowered, {id(root(t)) for t in out_ts})
    pb.relu_under_max_pool = sorted(pb.cropped.pop("relu_under_max_pool", []))
    # the outputs' root tensors write straight into per-plan output arrays
    pb.n_outputs = len(out_ts)
    pb.max_steps = max(1, n_steps)
    for i, t in enumerate(out_ts):
        r = root(t)
        k = plan.add_external(r.size, r.size * pb.max_steps, 0, f"output[{i}]")
        r.ext = -(1 + k)
        arr = np.zeros((pb.max_steps,) + t.shape, np.float32)
        plan.bind(k, arr)
        pb.out_arrays.append(arr)
        pb.outputs.append((k, t.shape))

    # fused cross-entropy on a softmax/sigmoid Dense output (from_logits=False): from the
    # Dense's pre-activation values, as Keras on TensorFlow does
    fused = {}  # id(output _Tensor) -> loss index
    if targets is not None:
        for i, (t, spec) in enumerate(zip(out_ts, targets)):
            if spec is None:
                continue
            family, from_logits = spec[0], spec[1]
            producer = next((lw for lw in lowered if lw[4] is t), None)
            if (producer is not None and producer[2] == "dense" and not from_logits
                    and t.consumers == 0 and t.alias_of is None):
                a = activation_kind(producer[1].activation, "")
                if (family in ("sparse", "categorical") and a == SOFTMAX) or \
                        (family == "binary" and a == SIGMOID):
                    fused[id(t)] = i
            # any other cross-entropy on a softmax/sigmoid output: eager computes it from
            # that activation's logits (whatever from_logits says, as Keras's TF backend;
            # ops/nn.py keras_logits); the plan only has the fused dense case above
            act = getattr(producer[1], "activation", None) if producer is not None else None
            if (id(t) not in fused and family in ("sparse", "categorical", "binary")
                    and _ACTS.get(act) in (SOFTMAX, SIGMOID)):
                raise Unsupported(f"{producer[1].name}: cross-entropy on a softmax/sigmoid "
                                  "output other than a Dense's with from_logits=False "
                                  "(computed from the logits, eagerly)")

    def ref(t):
        r = root(t)
        if r.ext is not None:
            return r.ext
        if r.buf is None:
            r.buf = arena.new(r.size, t_clock[0])
        arena.use(r.buf, t_clock[0])
        return ("arena", r.buf)

    instrs = []  # (list, op, ints (refs resolved later), floats, label)
    label = [""]  # what the next instructions belong to (a layer's name; for profiles)

    def emit(lst, op, ints, floats=()):
        for v in ints:  # every buffer an instruction touches is live at it
            if isinstance(v, tuple):
                arena.use(v[1], t_clock[0])
        instrs.append((lst, op, list(ints), list(floats), label[0]))
        t_clock[0] += 1

    # ---- forward -------------------------------------------------------------------------
    logits = {}  # id(output tensor) -> its pre-activation buffer (fused losses)
    mask_refs = {}  # id(node) -> the dropout mask's external ref
    extra = {}  # id(node) -> buffers the forward keeps for the backward
    max_cols = 1
    scratch = 1
    for node, layer, kind, ins, out in lowered:
        if kind == "alias":
            continue
        label[0] = layer.name
        if kind == "dense":
            x = ins[0]
            K = x.shape[-1]
            N = out.shape[-1]
            M = x.size // K
            max_cols = max(max_cols, N)
            a = activation_kind(layer.activation, "")
            w = _weight_ref(pb, plan, layer.kernel)
            b = _weight_ref(pb, plan, layer.bias) if layer.bias is not None else NONE
            y = ref(out)
            z = y
            if id(out) in fused:
                zt = _Tensor(out.shape)
                z = ref(zt)
                logits[id(out)] = zt
            emit(FORWARD, DENSE, [ref(x), w, b, z, y, M, K, N, a])
            if a == SOFTMAX:
                scratch = max(scratch, out.size)
        elif kind in ("act", "relu"):
            a = RELU if kind == "relu" else activation_kind(layer.activation, "")
            cols = out.shape[-1]
            emit(FORWARD, ACT, [ref(ins[0]), ref(out), out.size // cols, cols, a])
            scratch = max(scratch, out.size)
        elif kind == "dropout":
            k = plan.add_external(out.size, out.size * pb.max_steps, 0, f"mask[{layer.name}]")
            mask = np.zeros((pb.max_steps, out.size), np.float32)
            plan.bind(k, mask)
            pb.masks.append((layer, mask, out.shape))
            mask_refs[id(node)] = -(1 + k)
            emit(FORWARD, DROPOUT, [ref(ins[0]), ref(out), -(1 + k), out.size])
        elif kind in ("conv", "convt"):
            op, geo = _conv_op(layer, kind, ins[0], out)
            b = _weight_ref(pb, plan, layer.bias) if layer.bias is not None else NONE
            emit(FORWARD, op, [ref(ins[0]), _weight_ref(pb, plan, layer.kernel), b, ref(out),
                               activation_kind(layer.activation, "")] + geo)
            if kind == "convt":
                max_cols = max(max_cols, out.shape[-1])
        elif kind == "up":
            n, h, w, c = ins[0].shape
            emit(FORWARD, UPSAMPLE, [ref(ins[0]), ref(out), n, h, w, layer.size[0], layer.size[1],
                                     c])
        elif kind == "pool":
            arg = arena.new(out.size, t_clock[0])
            extra[id(node)] = ("arena", arg)
            emit(FORWARD, POOL, [ref(ins[0]), ref(out), ("arena", arg),
                                 0 if layer.kind == "max" else 1] + _pool_geometry(layer, ins[0]))
        elif kind == "gpool":
            x = ins[0]
            n, c = x.shape[0], x.shape[-1]
            cnt = arena.new(n * c, t_clock[0])
            extra[id(node)] = ("arena", cnt)
            emit(FORWARD, GLOBAL_POOL, [ref(x), ref(out), ("arena", cnt),
                                        0 if layer.kind == "max" else 1, n, x.size // (n * c), c])
        elif kind == "bn":
            x = ins[0]
            if layer._axis != len(x.shape) - 1:
                raise Unsupported(f"BatchNormalization {layer.name!r} on axis {layer.axis} (the "
                                  "plan normalizes the last axis)")
            c = x.shape[-1]
            bn_train = training and layer.trainable
            mean, var = arena.new(c, t_clock[0]), arena.new(c, t_clock[0])
            extra[id(node)] = (("arena", mean), ("arena", var), bn_train)
            emit(FORWARD, BATCH_NORM, [
                ref(x), ref(out),
                _weight_ref(pb, plan, layer.gamma) if layer.gamma is not None else NONE,
                _weight_ref(pb, plan, layer.beta) if layer.beta is not None else NONE,
                ("arena", mean), ("arena", var), _weight_ref(pb, plan, layer.moving_mean),
                _weight_ref(pb, plan, layer.moving_variance), x.size // c, c,
                1 if bn_train else 0], [layer.epsilon, layer.momentum, 1.0 - layer.momentum])
        elif kind == "add":
            emit(FORWARD, ADD, [ref(out), out.size, len(ins)] + [ref(t) for t in ins])
        elif kind == "concat":
            rows = out.size // out.shape[-1]
            args = [ref(out), rows, len(ins)]
            for t in ins:
                args += [ref(t), t.shape[-1]]
            emit(FORWARD, CONCAT, args)
            scratch = max(scratch, out.size)
        elif kind == "embedding":
            x = ins[0]
            # the indices: an int32 stream, or floats cast to int32 as the eager layer
            # does into a buffer kept for the backward
            stream = 1 if id(x) in int_streams else 0
            idx = ref(x) if stream else ("arena", arena.new(x.size, t_clock[0]))
            text = plan.add_text(_index_error_text(model, layer))
            extra[id(node)] = (idx, stream)
            emit(FORWARD, EMBEDDING, [ref(x), stream, idx,
                                      _weight_ref(pb, plan, layer.embeddings),
                                      ref(out), x.size, layer.output_dim, layer.input_dim, text,
                                      len(x.shape)] + list(x.shape))
        elif kind == "rnn":
            x = ins[0]
            if len(ins) != 1 or len(x.shape) != 3 or x.shape[1] < 1:
                raise Unsupported(f"{type(layer).__name__} {layer.name!r} on inputs "
                                  f"{[t.shape for t in ins]} (the plan takes one (batch, steps "
                                  ">= 1, features) sequence)")
            _, cell_kind, _, states, ws_per = _RNN_CELLS[type(layer)]
            n, steps, feat = x.shape
            u = layer.units
            cell = layer.cell
            packed = ("arena", arena.new(n * (steps + states) * u, t_clock[0]))
            ws = ("arena", arena.new(n * steps * ws_per * u, t_clock[0]))
            extra[id(node)] = (packed, ws)
            emit(FORWARD, RECURRENT, [
                cell_kind, ref(x), _weight_ref(pb, plan, cell.kernel),
                _weight_ref(pb, plan, cell.recurrent_kernel),
                _weight_ref(pb, plan, cell.bias) if cell.bias is not None else NONE, packed, ws,
                ref(out), n, steps, feat, u, 1 if layer.return_sequences else 0,
                _RNN_ACTS.get(cell.activation, 0)])

    # ---- loss ----------------------------------------------------------------------------
    loss_grads = {}
    if targets is not None:
        for i, (t, spec) in enumerate(zip(out_ts, targets)):
            if spec is None:
                continue
            family, from_logits, reduction, weight = spec
            rows = t.size // t.shape[-1]  # one loss value per row (the last axis reduced)
            cols = t.shape[-1]
            if len(t.shape) < 2:
                raise Unsupported(f"output {i} has rank {len(t.shape)}")
            if sample_weight and len(t.shape) != 2:
                raise Unsupported(f"sample weights for output {i} of rank {len(t.shape)}")
            if id(t) in fused:
                pred = ref(logits[id(t)])
                kind = {"sparse": SPARSE_LOGITS, "categorical": CCE_LOGITS,
                        "binary": BCE_LOGITS}[family]
            else:
                pred = ref(t)
                kind = {("sparse", True): SPARSE_LOGITS, ("sparse", False): SPARSE_PROBS,
                        ("categorical", True): CCE_LOGITS, ("categorical", False): CCE_PROBS,
                        ("binary", True): BCE_LOGITS, ("binary", False): BCE_PROBS,
                        ("mse", False): MSE, ("mae", False): MAE}[(family, from_logits)]
            if family == "sparse":
                k = plan.add_external(0, rows, 1, f"y[{i}]")
                pb.label_checks.append((i, cols))
            else:
                k = plan.add_external(0, t.size, 0, f"y[{i}]")
            pb.streams.append(("y", i, k))
            swr = NONE
            if sample_weight:
                ks = plan.add_external(0, rows, 0, f"sample_weight[{i}]")
                pb.streams.append(("sw", i, ks))
                swr = -(1 + ks)
            g = NONE
            if training and root(t).needs_grad:
                gt = logits[id(t)] if id(t) in fused else root(t)
                gbuf = arena.new(t.size, t_clock[0])
                loss_grads[id(gt)] = gbuf
                g = ("arena", gbuf)
                if id(t) not in fused:
                    root(t).grad = gbuf
                    root(t).grad_written = True
            divisor = float(rows) if reduction == "sum_over_batch_size" else 1.0
            label[0] = f"loss[{i}]"
            emit(LOSS, LOSS_OP, [kind, pred, -(1 + k), swr, g, rows, cols],
                 [weight, 1e-7, divisor])
            scratch = max(scratch, rows)
    if targets is not None:  # the weights' regularization losses join the loss (Layer.losses)
        for w in model.trainable_weights:
            reg = w.regularizer
            if reg is not None and (reg.l1 or reg.l2):
                label[0] = w.path or w.name
                emit(LOSS, REGULARIZE, [_weight_ref(pb, plan, w), NONE, w._value.size],
                     [reg.l1, reg.l2])

    # ---- backward ------------------------------------------------------------------------
    weight_grads = {}  # id(var) -> [arena buf, written]

    def wgrad(var):
        if not training or id(var) not in trainable_ids:
            return NONE, 0
        e = weight_grads.get(id(var))
        if e is None:
            e = weight_grads[id(var)] = [arena.new(var._value.size, t_clock[0]), False]
        acc = 1 if e[1] else 0
        e[1] = True
        return ("arena", e[0]), acc

    def grad_in(t):
        """(ref, accumulate) of the gradient buffer t's consumer writes, or (NONE, 0)."""
        r = root(t)
        if not r.needs_grad:
            return NONE, 0
        if r.grad is None:
            r.grad = arena.new(r.size, t_clock[0])
        arena.use(r.grad, t_clock[0])
        acc = 1 if r.grad_written else 0
        r.grad_written = True
        return ("arena", r.grad), acc

    def grad_of(t):
        r = root(t)
        if r.grad is None or not r.grad_written:
            return None
        arena.use(r.grad, t_clock[0])
        return ("arena", r.grad)

    if training:
        for node, layer, kind, ins, out in reversed(lowered):
            if kind == "alias" or not out.needs_grad:
                continue
            label[0] = layer.name
            if kind == "dense":
                x = ins[0]
                K = x.shape[-1]
                N = out.shape[-1]
                M = x.size // K
                if id(out) in fused:
                    gy = ("arena", loss_grads[id(logits[id(out)])])
                    a = LINEAR
                    y = ref(out)
                else:
                    gy = grad_of(out)
                    if gy is None:
                        continue
                    a = activation_kind(layer.activation, "")
                    y = ref(out)
                gx, accx = grad_in(x)
                gw, accw = wgrad(layer.kernel)
                gb, accb = wgrad(layer.bias) if layer.bias is not None else (NONE, 0)
                if gb != NONE and gw != NONE and accb != accw:
                    raise Unsupported(f"Dense {layer.name!r}: kernel and bias shared apart")
                emit(BACKWARD, DENSE, [ref(x), _weight_ref(pb, plan, layer.kernel), y, gy, gx,
                                       gw, gb, M, K, N, a, accx, accw])
            elif kind in ("act", "relu"):
                gy = grad_of(out)
                if gy is None:
                    continue
                a = RELU if kind == "relu" else activation_kind(layer.activation, "")
                gx, acc = grad_in(ins[0])
                if gx == NONE:
                    continue
                cols = out.shape[-1]
                emit(BACKWARD, ACT, [ref(out), gy, gx, out.size // cols, cols, a, acc])
            elif kind == "dropout":
                gy = grad_of(out)
                if gy is None:
                    continue
                gx, acc = grad_in(ins[0])
                if gx == NONE:
                    continue
                emit(BACKWARD, DROPOUT, [gy, gx, mask_refs[id(node)], out.size, acc])
            elif kind in ("conv", "convt"):
                gy = grad_of(out)
                if gy is None:
                    continue
                x = ins[0]
                gx, accx = grad_in(x)
                gw, accw = wgrad(layer.kernel)
                gb, accb = wgrad(layer.bias) if layer.bias is not None else (NONE, 0)
                # Conv2D's kernel gradient pass writes the bias gradient too
                apart = kind == "conv" and layer.bias is not None and (gw == NONE) != (gb == NONE)
                if accw or accb or apart:
                    raise Unsupported(f"{type(layer).__name__} {layer.name!r}: shared, or kernel "
                                      "and bias trainable apart")
                op, geo = _conv_op(layer, kind, x, out)
                # (a ReLU under a max pooling: the pooling's backward applies the mask)
                a = LINEAR if id(out) in relu_pooled else activation_kind(layer.activation, "")
                emit(BACKWARD, op, [ref(x), _weight_ref(pb, plan, layer.kernel), ref(out), gy, gx,
                                    gw, gb, a, accx] + geo)
            elif kind == "up":
                gy = grad_of(out)
                if gy is None:
                    continue
                gx, acc = grad_in(ins[0])
                if gx == NONE:
                    continue
                n, h, w, c = ins[0].shape
                emit(BACKWARD, UPSAMPLE, [gy, gx, n, h, w, layer.size[0], layer.size[1], c, acc])
            elif kind == "pool":
                gy = grad_of(out)
                if gy is None:
                    continue
                gx, acc = grad_in(ins[0])
                if gx == NONE:
                    continue
                relu_y = ref(out) if id(ins[0]) in relu_pooled else NONE
                emit(BACKWARD, POOL, [gy, extra[id(node)], gx, 0 if layer.kind == "max" else 1,
                                      acc] + _pool_geometry(layer, ins[0]) + [relu_y])
            elif kind == "gpool":
                gy = grad_of(out)
                if gy is None:
                    continue
                x = ins[0]
                gx, acc = grad_in(x)
                if gx == NONE:
                    continue
                n, c = x.shape[0], x.shape[-1]
                gs = arena.new(n * c, t_clock[0])
                emit(BACKWARD, GLOBAL_POOL, [ref(x), ref(out), extra[id(node)], gy, gx,
                                             ("arena", gs), 0 if layer.kind == "max" else 1, n,
                                             x.size // (n * c), c, acc])
            elif kind == "bn":
                gy = grad_of(out)
                if gy is None:
                    continue
                mean, var, bn_train = extra[id(node)]
                if not bn_train:
                    raise Unsupported(f"BatchNormalization {layer.name!r}: a frozen layer "
                                      "inside a trained graph")
                x = ins[0]
                gx, accx = grad_in(x)
                gg, accg = wgrad(layer.gamma) if layer.gamma is not None else (NONE, 0)
                gbeta, accb = wgrad(layer.beta) if layer.beta is not None else (NONE, 0)
                if accg or accb:
                    raise Unsupported(f"BatchNormalization {layer.name!r} is shared")
                c = x.shape[-1]
                emit(BACKWARD, BATCH_NORM, [
                    ref(x), gy, gx, mean, var,
                    _weight_ref(pb, plan, layer.gamma) if layer.gamma is not None else NONE,
                    gg, gbeta, x.size // c, c, accx], [layer.epsilon])
            elif kind == "add":
                gy = grad_of(out)
                if gy is None:
                    continue
                args = [gy, out.size, len(ins)]
                for t in ins:
                    g, acc = grad_in(t)
                    args += [g, acc]
                emit(BACKWARD, ADD, args)
            elif kind == "concat":
                gy = grad_of(out)
                if gy is None:
                    continue
                rows = out.size // out.shape[-1]
                args = [gy, rows, len(ins)]
                for t in ins:
                    g, acc = grad_in(t)
                    args += [g, t.shape[-1], acc]
                emit(BACKWARD, CONCAT, args)
            elif kind == "embedding":
                gy = grad_of(out)
                if gy is None:
                    continue
                gw, accw = wgrad(layer.embeddings)
                if gw == NONE:
                    continue
                if accw:
                    raise Unsupported(f"Embedding {layer.name!r} is shared")
                # the indices get no gradient (as the eager cast to int32)
                emit(BACKWARD, EMBEDDING, [*extra[id(node)], gy, gw, ins[0].size,
                                           layer.output_dim, layer.input_dim])
            elif kind == "rnn":
                gy = grad_of(out)
                if gy is None:
                    continue
                _, cell_kind, gates, states, _ = _RNN_CELLS[type(layer)]
                x = ins[0]
                n, steps, feat = x.shape
                u = layer.units
                cell = layer.cell
                packed, ws = extra[id(node)]
                gx, accx = grad_in(x)
                gk, acck = wgrad(cell.kernel)
                gr, accr = wgrad(cell.recurrent_kernel)
                gb, accb = wgrad(cell.bias) if cell.bias is not None else (NONE, 0)
                if acck or accr or accb:
                    raise Unsupported(f"{type(layer).__name__} {layer.name!r} is shared")

                def tmp(size):  # a buffer the kernel writes and nobody reads
                    return ("arena", arena.new(size, t_clock[0]))

                dx = gx if gx != NONE and not accx else tmp(x.size)
                emit(BACKWARD, RECURRENT, [
                    cell_kind, ref(x), _weight_ref(pb, plan, cell.kernel),
                    _weight_ref(pb, plan, cell.recurrent_kernel),
                    _weight_ref(pb, plan, cell.bias) if cell.bias is not None else NONE, packed,
                    ws, gy, tmp(n * (steps + states) * u), dx, gx, accx,
                    gk if gk != NONE else tmp(feat * gates * u),
                    gr if gr != NONE else tmp(u * gates * u), gb, tmp(n * u),
                    tmp(n * u) if states == 2 else NONE, n, steps, feat, u,
                    1 if layer.return_sequences else 0, _RNN_ACTS.get(cell.activation, 0)])
        # regularizer gradients, then the update of every trainable weight
        weights = pb_trainable(model, trainable_ids)
        missing = [w.path or w.name for w in weights if id(w) not in weight_grads]
        if missing:
            raise Unsupported(f"weights {missing} get no gradient from the loss")
        for w in weights:
            reg = w.regularizer
            if reg is not None and (reg.l1 or reg.l2):
                label[0] = w.path or w.name
                emit(BACKWARD, REGULARIZE, [_weight_ref(pb, plan, w),
                                            ("arena", weight_grads[id(w)][0]), w._value.size],
                     [reg.l1, reg.l2])
        opt = model.optimizer
        okind = optimizer_kind(opt)
        opt.build(weights)
        for w in weights:
            slots = opt._slots[id(w)]
            refs = [_bind_array(pb, plan, s, f"slot of {w.name}") for s in slots]
            g = ("arena", weight_grads[id(w)][0])
            arena.use(weight_grads[id(w)][0], t_clock[0])
            label[0] = w.path or w.name
            if okind == SGD:
                s = [refs[0] if opt.momentum else NONE, NONE, NONE]
                ints = [SGD, _weight_ref(pb, plan, w), g] + s + [w._value.size,
                                                                 1 if opt.nesterov else 0]
                floats = [opt.momentum]
            elif okind == RMSPROP:
                s = [refs[0], refs[1] if opt.momentum else NONE,
                     refs[-1] if opt.centered else NONE]
                ints = [RMSPROP, _weight_ref(pb, plan, w), g] + s + [w._value.size, 0]
                floats = [opt.rho, opt.momentum, opt.epsilon]
            else:
                s = [refs[0], refs[1], refs[2] if opt.amsgrad else NONE]
                ints = [ADAM, _weight_ref(pb, plan, w), g] + s + [w._value.size, 0]
                floats = [opt.beta_1, opt.beta_2, opt.epsilon]
            emit(UPDATE, UPDATE_OP, ints, floats)
        pb.weights = weights

    # ---- resolve arena offsets and hand the instructions to C++ ----------------------------
    offsets, top = arena.plan()
    # scratch: accumulating gradients, softmax backward, loss values (any tensor's size)
    scratch = max([scratch, max_cols] + [t.size for t in tensors.values()])
    plan.set_arena(top, scratch)
    for lst, op, ints, floats, name in instrs:
        resolved = [offsets[v[1]] if isinstance(v, tuple) else int(v) for v in ints]
        plan.add(lst, op, resolved, [float(f) for f in floats])
        pb.labels[lst].append(name)
    plan.set_streams([k for _, _, k in pb.streams])
    plan.finalize(pb.n_outputs if targets is not None else 0, HYPER_WIDTH, max_cols)
    pb.arena_floats = top
    return pb


def _index_error_text(model, layer):
    """The message of the IndexError an eager call of `model` raises for a bad index into
    Embedding `layer` (the layer's own, with the model's calling context in front)."""
    from fastnet.layers.layer import _error_naming_layer

    where = f"Embedding {layer.name!r} (input_dim={layer.input_dim})"
    named = _error_naming_layer(model, IndexError(where))
    return where if named is None else str(named)


def _infer_shapes(node, ins, concrete):
    """The shapes of `node`'s outputs that have `None` axes beyond the batch, from its
    inputs' shapes in this signature (``compute_output_shape``), into `concrete`."""
    outs = [kt for kt in node.outputs if any(s is None for s in tuple(kt.shape)[1:])]
    if not outs:
        return
    layer = node.operation
    shapes = [t.shape for t in ins]
    try:
        got = layer.compute_output_shape(shapes[0] if len(shapes) == 1 else shapes)
    except Exception as e:  # noqa: BLE001 - any failure: the eager path
        raise Unsupported(f"layer {layer.name!r}: no output shape for inputs {shapes} "
                          f"({type(e).__name__})") from None
    if len(node.outputs) != 1 or not isinstance(got, (tuple, list)) or any(
            not isinstance(v, (int, np.integer)) for v in got[1:]):
        raise Unsupported(f"layer {layer.name!r}: output shape {got} for inputs {shapes}")
    kt = node.outputs[0]
    sym = tuple(kt.shape)
    got = (ins[0].shape[0],) + tuple(int(v) for v in got[1:])
    if len(got) != len(sym) or any(w is not None and w != g for w, g in zip(sym[1:], got[1:])):
        raise Unsupported(f"layer {layer.name!r}: output shape {got} for inputs {shapes} does "
                          f"not match its symbolic shape {sym}")
    concrete[id(kt)] = got


def _conv_op(layer, kind, x, out):
    """(op, geometry) of a Conv2D ("conv") or Conv2DTranspose ("convt") call; the
    geometry [n, H, W, OH, OW, KH, KW, SH, SW, DH, DW, PH, PW, cin, cout] is that of the
    convolution itself, or for a Conv2DTranspose of the convolution it transposes: from
    the output's spatial shape (its input) to x's (its output), kernel (KH, KW, filters,
    Cin) read as (KH, KW, Cin=filters, Cout=in_channels)."""
    src, dst = (x, out) if kind == "conv" else (out, x)
    n, h, w, cin = src.shape
    _, oh, ow, cout = dst.shape
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel_size, layer.strides, layer.dilation_rate
    pads = []
    for size, o, k, st, d in ((h, oh, kh, sh, dh), (w, ow, kw, sw, dw)):
        # TensorFlow 'same': the odd extra padding after
        pads.append(max((o - 1) * st + (k - 1) * d + 1 - size, 0) // 2
                    if layer.padding == "same" else 0)
    op = CONV if kind == "conv" else CONV_TRANSPOSE
    return op, [n, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pads[0], pads[1], cin, cout]


def _crop_and_fuse(lowered, output_ids):
    """Two rewrites around Conv2D outputs that only convolutions and poolings read.

    Crop: a `valid` convolution or pooling reads only the first (O-1)*s + (k-1)*d + 1
    rows (and columns) of its input. A tensor written by a `valid` Conv2D and read only
    by `valid` Conv2Ds and poolings is computed and stored in the extent they read (the
    toy ResNet's 28x28 Conv2D output under MaxPooling2D(3) reads 27x27, and so the
    Conv2D before it needs 29 of its 30 rows); the rest gets zero gradients, so leaving
    it out changes no gradient (the sums lose zero terms, to float rounding).

    Fuse: a ReLU Conv2D whose only reader is a max pooling gets its ReLU mask applied by
    the pooling's backward, on the pooled gradient. Returns the ids of those outputs and
    {layer name: (shape, cropped shape)}, whose "relu_under_max_pool" lists those layers."""
    readers = {}
    for _node, layer, kind, ins, out in lowered:
        for t in ins:
            readers.setdefault(id(t), []).append((layer, kind, out))
    relu_pooled, cropped = set(), {}
    for _node, layer, kind, _ins, out in reversed(lowered):  # readers' extents first
        if kind != "conv" or out.alias_of is not None or id(out) in output_ids:
            continue
        rs = readers.get(id(out), [])
        if not rs:
            continue
        if (len(rs) == 1 and rs[0][1] == "pool" and rs[0][0].kind == "max"
                and _ACTS.get(layer.activation) == RELU):
            relu_pooled.add(id(out))
            cropped.setdefault("relu_under_max_pool", []).append(layer.name)
        if layer.padding != "valid":
            continue
        need = [0, 0]
        for r_layer, r_kind, r_out in rs:
            if r_kind == "conv" and r_layer.padding == "valid":
                k, st, d = r_layer.kernel_size, r_layer.strides, r_layer.dilation_rate
            elif r_kind == "pool" and r_layer.padding == "valid":
                k, st, d = r_layer.pool_size, r_layer.strides, (1, 1)
            else:
                need = None
                break
            for ax in (0, 1):
                o = r_out.shape[1 + ax]
                if o < 1:
                    need = None
                    break
                need[ax] = max(need[ax], (o - 1) * st[ax] + (k[ax] - 1) * d[ax] + 1)
            if need is None:
                break
        if need is None:
            continue
        n, h, w, c = out.shape
        if need[0] < h or need[1] < w:
            out.shape = (n, min(h, need[0]), min(w, need[1]), c)
            out.size = n * out.shape[1] * out.shape[2] * c
            cropped[layer.name] = ((n, h, w, c), out.shape)
    return relu_pooled, cropped


def _pool_geometry(layer, x):
    """[N, D, H, W, KD, KH, KW, SD, SH, SW, same, C] of a 2-D pooling call."""
    n, h, w, c = x.shape
    (kh, kw), (sh, sw) = layer.pool_size, layer.strides
    return [n, 1, h, w, 1, kh, kw, 1, sh, sw, 1 if layer.padding == "same" else 0, c]


def pb_trainable(model, trainable_ids):
    return [w for w in model.trainable_weights if id(w) in trainable_ids]


def _bind_array(pb, plan, arr, name):
    if arr.dtype != np.float32 or not arr.flags.c_contiguous or not arr.flags.writeable:
        raise Unsupported(f"{name}: not a writeable C-contiguous float32 array")
    k = plan.add_external(0, arr.size, 0, name)
    plan.bind(k, arr)
    pb.bound.append((arr, k))
    return -(1 + k)


def _weight_ref(pb, plan, var):
    cache = pb.__dict__.setdefault("_wrefs", {})
    r = cache.get(id(var))
    if r is None:
        r = cache[id(var)] = _bind_array(pb, plan, var._value, f"weight {var.name}")
        pb.__dict__.setdefault("_vars", []).append(var)
    return r
