"""Output-spec rules of the public ops: shape and dtype from the inputs' shapes and dtypes.

``SPECS[name](*args, **kwargs)`` takes the op's own arguments (KerasTensors, Tensors,
arrays or Python values mixed) and returns KerasTensor(s) — what ``ops.<name>`` returns
when called on KerasTensors (fastnet/ops/operation.py: OpFunction). Nothing here runs a
kernel or does arithmetic on data: view-only ops (reshape, transpose, indexing, ...) are
resolved by numpy on a zero-stride array of the input's shape (one element of memory, an
O(1) view), with unknown (None) dims tried at two sizes to see which output dims follow
them; every other rule is a formula on shapes. Dtype rules follow fastnet's eager ops
(fastnet/ops/math.py: _pair/_promote): a Python scalar takes the tensor's dtype, float64
only when an operand is float64, int/bool inputs of float-valued ops give float32.
"""

from __future__ import annotations

import numpy as np

from fastnet.backend.symbolic import KerasTensor
from fastnet.backend.tensor import floatx, standardize_dtype

SPECS = {}


def _shape(x):
    if isinstance(x, KerasTensor):
        return x.shape
    if hasattr(x, "shape"):
        return tuple(x.shape)
    return np.shape(x)


def _dtype(x):
    if isinstance(x, KerasTensor):
        return x.dtype
    if hasattr(x, "dtype"):
        return standardize_dtype(str(x.dtype))
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int32"
    if isinstance(x, float):
        return floatx()
    return standardize_dtype(np.asarray(x).dtype.name)


def _is_py_scalar(x):
    return isinstance(x, (int, float, bool)) and not hasattr(x, "shape")


def _kt(shape, dtype):
    return KerasTensor(tuple(shape), dtype)


def _float_of(dtype):
    return dtype if np.dtype(dtype).kind == "f" else floatx()


def _promote(*xs):
    tensors = [x for x in xs if not _is_py_scalar(x)]
    scalars = [x for x in xs if _is_py_scalar(x)]
    if not tensors:
        return _dtype(xs[0])
    dts = [_dtype(x) for x in tensors]
    dt = np.result_type(*[np.dtype(d) for d in dts])
    if dt == np.float64 and "float64" not in dts:
        dt = np.dtype(floatx())
    if any(isinstance(s, float) for s in scalars) and dt.kind != "f":
        dt = np.dtype(floatx())
    return standardize_dtype(dt.name)


def broadcast_shapes(*shapes):
    """numpy's broadcasting of shapes with None (unknown) dims."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(1, rank + 1):
        dims = [s[-i] for s in shapes if len(s) >= i]
        known = [d for d in dims if d is not None and d != 1]
        if len(set(known)) > 1:
            raise ValueError("Cannot broadcast shapes " + " and ".join(str(s) for s in shapes))
        if known:
            out.append(known[0])
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(reversed(out))


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (list, tuple)) else (axis,)
    return tuple(a % ndim if ndim else 0 for a in axes)


def _reduced(shape, axis, keepdims):
    axes = _axes(axis, len(shape))
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _register(names, rule):
    for n in names.split():
        SPECS[n] = rule


# ---- elementwise ----------------------------------------------------------------------
def _same(x, *args, **kwargs):
    return _kt(_shape(x), _dtype(x))


def _float_valued(x, *args, **kwargs):
    return _kt(_shape(x), _float_of(_dtype(x)))


def _bool_valued(x, *args, **kwargs):
    return _kt(_shape(x), "bool")


_register("abs absolute negative sign square ceil floor round trunc fabs relu relu6 "
          "copy stop_gradient identity nan_to_num clip", _same)
_register("exp exp2 expm1 log log10 log1p log2 sqrt rsqrt cbrt reciprocal sin cos tan "
          "arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh erf erfc deg2rad "
          "rad2deg sigmoid hard_sigmoid hard_silu hard_swish silu swish softplus softsign "
          "elu selu gelu mish leaky_relu exponential linear softmax log_softmax sinc", _float_valued)
_register("isnan isinf isfinite isneginf isposinf signbit logical_not isreal", _bool_valued)


def _binary(x1, x2, *args, **kwargs):
    return _kt(broadcast_shapes(_shape(x1), _shape(x2)), _promote(x1, x2))


def _binary_float(x1, x2, *args, **kwargs):
    return _kt(broadcast_shapes(_shape(x1), _shape(x2)), _float_of(_promote(x1, x2)))


def _compare(x1, x2, *args, **kwargs):
    return _kt(broadcast_shapes(_shape(x1), _shape(x2)), "bool")


_register("add subtract multiply maximum minimum mod floor_divide power fmax fmin fmod "
          "heaviside", _binary)
_register("divide true_divide divide_no_nan arctan2 hypot logaddexp logaddexp2", _binary_float)
_register("equal not_equal less less_equal greater greater_equal logical_and logical_or "
          "logical_xor isclose", _compare)


def _where(condition, x1=None, x2=None):
    if x1 is None and x2 is None:
        raise NotImplementedError("ops.where(condition) (the indices form) has a data-dependent "
                                  "shape and cannot be called on symbolic tensors")
    return _kt(broadcast_shapes(_shape(condition), _shape(x1), _shape(x2)), _promote(x1, x2))


SPECS["where"] = _where


def _cast(x, dtype):
    return _kt(_shape(x), standardize_dtype(dtype))


SPECS["cast"] = _cast


# ---- reductions -------------------------------------------------------------------------
def _reduction(kind):
    def rule(x, axis=None, keepdims=False, *args, **kwargs):
        dt = _dtype(x)
        if kind == "float":
            dt = _float_of(dt)
        elif kind == "int":
            dt = "int32"
        elif kind == "bool":
            dt = "bool"
        elif kind == "sum":  # as fastnet's (and Keras's) sum and prod
            if kwargs.get("dtype") is not None:
                dt = standardize_dtype(kwargs["dtype"])
            dt = {"bool": "int32", "int8": "int32", "int16": "int32", "uint8": "uint32",
                  "uint16": "uint32"}.get(dt, dt)
        return _kt(_reduced(_shape(x), axis, keepdims), dt)

    return rule


_register("sum prod nansum nanprod", _reduction("sum"))
_register("max min amax amin nanmax nanmin ptp", _reduction("same"))
_register("mean std var nanmean nanstd nanvar median logsumexp", _reduction("float"))
_register("argmax argmin count_nonzero", _reduction("int"))
_register("all any", _reduction("bool"))


def _moments(x, axes, keepdims=False, synchronized=False):
    s = _kt(_reduced(_shape(x), axes, keepdims), _float_of(_dtype(x)))
    return s, _kt(s.shape, s.dtype)


SPECS["moments"] = _moments


def _cumulative(x, axis=None, dtype=None):
    shape = _shape(x)
    if axis is None:
        n = None if any(d is None for d in shape) else int(np.prod(shape))
        shape = (n,)
    dt = standardize_dtype(dtype) if dtype else _dtype(x)
    return _kt(shape, "int32" if dt == "bool" else dt)


_register("cumsum cumprod", _cumulative)


# ---- shapes (numpy on a zero-stride view of the input's shape) -------------------------
def _meta(shape, dtype, fill):
    shape = tuple(fill if d is None else d for d in shape)
    return np.lib.stride_tricks.as_strided(np.zeros((), dtype=np.dtype(dtype)), shape=shape,
                                           strides=(0,) * len(shape), writeable=False)


def _view_rule(fn):
    """A rule from a numpy function that only views its first argument."""

    def rule(x, *args, **kwargs):
        shape, dtype = _shape(x), _dtype(x)
        a = fn(_meta(shape, dtype, 2), *args, **kwargs)
        if None not in shape:
            return _kt(a.shape, dtype)
        b = fn(_meta(shape, dtype, 3), *args, **kwargs)
        if a.ndim != b.ndim:
            raise ValueError("the output rank depends on an unknown dimension")
        return _kt(tuple(p if p == q else None for p, q in zip(a.shape, b.shape)), dtype)

    return rule


def _reshape(x, newshape):
    shape = _shape(x)
    newshape = (newshape,) if isinstance(newshape, int) else tuple(newshape)
    if None in shape:  # -1 stays unknown unless the other known dims fix it
        return _kt(tuple(None if d == -1 else d for d in newshape), _dtype(x))
    return _kt(_meta(shape, _dtype(x), 1).reshape(newshape).shape, _dtype(x))


SPECS["reshape"] = _reshape
SPECS["transpose"] = _view_rule(np.transpose)
SPECS["expand_dims"] = _view_rule(np.expand_dims)
SPECS["squeeze"] = _view_rule(np.squeeze)
SPECS["moveaxis"] = _view_rule(np.moveaxis)
SPECS["swapaxes"] = _view_rule(np.swapaxes)
SPECS["flip"] = _view_rule(np.flip)
SPECS["ravel"] = _view_rule(np.ravel)
SPECS["diagonal"] = _view_rule(np.diagonal)
SPECS["get_item"] = _view_rule(lambda a, key: a[key])
SPECS["slice"] = _view_rule(lambda a, start, shape: a[tuple(
    np.s_[s:s + n] for s, n in zip(start, shape))])
SPECS["roll"] = _same


def _broadcast_to(x, shape):
    return _kt(broadcast_shapes(_shape(x), tuple(shape)), _dtype(x))


SPECS["broadcast_to"] = _broadcast_to


def _join(axis_new):
    def rule(xs, axis=0):
        shapes = [_shape(x) for x in xs]
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise ValueError(f"all inputs must have the same rank; got shapes {shapes}")
        dtype = _promote(*xs)
        if axis_new:
            ax = axis % (rank + 1)
            base = [None if any(s[i] is None for s in shapes) else shapes[0][i]
                    for i in range(rank)]
            return _kt(tuple(base[:ax]) + (len(xs),) + tuple(base[ax:]), dtype)
        ax = axis % rank
        out = []
        for i in range(rank):
            dims = [s[i] for s in shapes]
            if i == ax:
                out.append(None if None in dims else int(np.sum(dims)))
            else:
                known = {d for d in dims if d is not None}
                if len(known) > 1:
                    raise ValueError(f"concatenate: inputs differ off axis {axis}: {shapes}")
                out.append(known.pop() if known else None)
        return _kt(out, dtype)

    return rule


SPECS["concatenate"] = _join(False)
SPECS["stack"] = _join(True)


def _tile(x, repeats):
    shape = _shape(x)
    reps = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    n = max(len(shape), len(reps))
    shape = (1,) * (n - len(shape)) + tuple(shape)
    reps = (1,) * (n - len(reps)) + reps
    return _kt(tuple(None if d is None else d * r for d, r in zip(shape, reps)), _dtype(x))


SPECS["tile"] = _tile


def _repeat(x, repeats, axis=None):
    shape = _shape(x)
    if not isinstance(repeats, int):
        raise NotImplementedError("ops.repeat with per-element repeats on symbolic tensors")
    if axis is None:
        n = None if None in shape else int(np.prod(shape)) * repeats
        return _kt((n,), _dtype(x))
    ax = axis % len(shape)
    return _kt(tuple((None if d is None else d * repeats) if i == ax else d
                     for i, d in enumerate(shape)), _dtype(x))


SPECS["repeat"] = _repeat


def _pad(x, pad_width, mode="constant", constant_values=None):
    shape = _shape(x)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (len(shape), 2))
    return _kt(tuple(None if d is None else int(d + lo + hi) for d, (lo, hi) in zip(shape, pw)),
               _dtype(x))


SPECS["pad"] = _pad


def _take(x, indices, axis=None):
    shape, ishape = _shape(x), _shape(indices)
    if axis is None:
        return _kt(ishape, _dtype(x))
    ax = axis % len(shape)
    return _kt(tuple(shape[:ax]) + tuple(ishape) + tuple(shape[ax + 1:]), _dtype(x))


SPECS["take"] = _take


def _take_along_axis(x, indices, axis=None):
    return _kt(broadcast_shapes(_shape(x), _shape(indices)) if axis is not None
               else _shape(indices), _dtype(x))


SPECS["take_along_axis"] = _take_along_axis


def _one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    shape = list(_shape(x))
    ax = axis % (len(shape) + 1)
    shape.insert(ax, int(num_classes))
    return _kt(shape, standardize_dtype(dtype) if dtype else floatx())


SPECS["one_hot"] = _one_hot


# ---- products ---------------------------------------------------------------------------
def _matmul(x1, x2):
    a, b = _shape(x1), _shape(x2)
    if not a or not b:
        raise ValueError(f"matmul: scalars are not allowed; got shapes {a} and {b}")
    a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    if a2[-1] is not None and b2[-2] is not None and a2[-1] != b2[-2]:
        raise ValueError(f"matmul: incompatible shapes {a} and {b} (inner dims "
                         f"{a2[-1]} != {b2[-2]})")
    out = broadcast_shapes(a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    dt = _promote(x1, x2)
    return _kt(out, "int32" if dt in ("int8", "uint8", "bool") else dt)


SPECS["matmul"] = _matmul


def _dot(x1, x2):
    a, b = _shape(x1), _shape(x2)
    if not a or not b:
        return _binary(x1, x2)
    if len(b) == 1 or len(a) == 1 or len(b) == 2:
        return _matmul(x1, x2)
    return _kt(tuple(a[:-1]) + tuple(b[:-2]) + tuple(b[-1:]), _promote(x1, x2))


SPECS["dot"] = _dot


def _einsum(subscripts, *operands):
    if "->" not in subscripts or "..." in subscripts:
        raise NotImplementedError("ops.einsum on symbolic tensors needs explicit output "
                                  "subscripts (`->`) and no ellipsis")
    ins, out = subscripts.replace(" ", "").split("->")
    sizes = {}
    for spec, x in zip(ins.split(","), operands):
        for c, d in zip(spec, _shape(x)):
            if d is not None and d != 1:
                sizes[c] = d
            else:
                sizes.setdefault(c, d)
    return _kt(tuple(sizes.get(c) for c in out), _promote(*operands))


SPECS["einsum"] = _einsum


# ---- sorting and flips ----------------------------------------------------------------------
def _argsort(x, axis=-1):
    return _kt(_shape(x), "int32")


def _sort(x, axis=-1):
    return _kt(_shape(x), _dtype(x))


def _top_k(x, k, sorted=True):  # noqa: A002  (Keras's argument name)
    shape = tuple(_shape(x)[:-1]) + (int(k),)
    return _kt(shape, _dtype(x)), _kt(shape, "int32")


SPECS["argsort"] = _argsort
SPECS["sort"] = _sort
SPECS["top_k"] = _top_k
SPECS["tril"] = _same
SPECS["triu"] = _same
SPECS["fliplr"] = _view_rule(np.fliplr)
SPECS["flipud"] = _view_rule(np.flipud)
SPECS["rot90"] = _view_rule(np.rot90)


def _outer(x1, x2):
    def size(s):
        return None if None in s else int(np.prod(s))

    return _kt((size(_shape(x1)), size(_shape(x2))), _promote(x1, x2))


SPECS["outer"] = _outer


# ---- fastnet.ops.image ------------------------------------------------------------------------
def _image_axes(x, data_format):
    """(height axis, width axis, channel axis) of a rank-3 or rank-4 image tensor."""
    from fastnet.backend import image_data_format

    shape = _shape(x)
    if len(shape) not in (3, 4):
        raise ValueError(f"image ops take rank-3 (H, W, C) or rank-4 (N, H, W, C) images; got "
                         f"shape {tuple(shape)}")
    fmt = data_format or image_data_format()
    off = len(shape) - 3
    return (off + 1, off + 2, off) if fmt == "channels_first" else (off, off + 1, off + 2)


def _with(shape, **dims):
    out = list(shape)
    for axis, d in dims.items():
        out[int(axis[1:])] = d
    return tuple(out)


def _resize(images, size, *args, data_format=None, **kwargs):
    h, w, _ = _image_axes(images, data_format)
    return _kt(_with(_shape(images), **{f"a{h}": int(size[0]), f"a{w}": int(size[1])}),
               _float_of(_dtype(images)))


def _affine(images, transform, *args, **kwargs):
    return _kt(_shape(images), _float_of(_dtype(images)))


def _grayscale(images, data_format=None):
    _, _, c = _image_axes(images, data_format)
    return _kt(_with(_shape(images), **{f"a{c}": 1}), _dtype(images))


def _crop_or_pad(sign, word):
    def rule(images, *sides, target_height=None, target_width=None, data_format=None, **named):
        top, left, bottom, right = (list(sides) + [None] * 4)[:4]
        top = named.get(f"top_{word}", top)
        left = named.get(f"left_{word}", left)
        bottom = named.get(f"bottom_{word}", bottom)
        right = named.get(f"right_{word}", right)
        h, w, _ = _image_axes(images, data_format)
        shape = _shape(images)

        def size(dim, a, b, target):
            if target is not None:
                return int(target)
            return None if dim is None else dim + sign * (int(a or 0) + int(b or 0))

        return _kt(_with(shape, **{f"a{h}": size(shape[h], top, bottom, target_height),
                                   f"a{w}": size(shape[w], left, right, target_width)}),
                   _dtype(images))

    return rule


def _patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    from fastnet.ops.spatial import conv_output_length

    h, w, c = _image_axes(images, data_format)
    shape = _shape(images)
    k = (size, size) if isinstance(size, int) else tuple(size)
    s = k if strides is None else ((strides, strides) if isinstance(strides, int)
                                   else tuple(strides))
    d = dilation_rate if isinstance(dilation_rate, int) else dilation_rate[0]
    out = {f"a{ax}": None if shape[ax] is None else conv_output_length(shape[ax], kk, ss,
                                                                       padding, d)
           for ax, kk, ss in ((h, k[0], s[0]), (w, k[1], s[1]))}
    out[f"a{c}"] = None if shape[c] is None else k[0] * k[1] * shape[c]
    return _kt(_with(shape, **out), _dtype(images))


def _map_coordinates(inputs, coordinates, *args, **kwargs):
    return _kt(_shape(coordinates)[1:], _dtype(inputs))


_register("resize", _resize)
_register("affine_transform", _affine)
_register("rgb_to_grayscale", _grayscale)
_register("crop_images", _crop_or_pad(-1, "cropping"))
_register("pad_images", _crop_or_pad(+1, "padding"))
_register("extract_patches", _patches)
_register("map_coordinates", _map_coordinates)


# ---- keras.ops.nn: the newer activations, normalizations and rearrangements -----------------
_register("celu hard_shrink hard_tanh log_sigmoid soft_shrink sparse_plus sparse_sigmoid "
          "squareplus tanh_shrink threshold sparsemax normalize rms_normalization "
          "layer_normalization", _float_valued)


def _glu(x, axis=-1):
    shape = list(_shape(x))
    ax = axis % len(shape)
    if shape[ax] is not None:
        if shape[ax] % 2:
            raise ValueError(f"glu: axis size must be divisible by 2. Received: "
                             f"x.shape={tuple(shape)} with axis={axis}")
        shape[ax] //= 2
    return _kt(shape, _float_of(_dtype(x)))


def _multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    num_classes = kwargs.get("num_tokens", num_classes)
    shape = list(_shape(inputs))
    ax = axis % (len(shape) + 1)
    shape.insert(ax, int(num_classes))
    del shape[1 if len(_shape(inputs)) > 1 else 0]
    return _kt(shape, standardize_dtype(dtype) if dtype else floatx())


def _psnr(x1, x2, max_val):
    return _kt((), _float_of(_promote(x1, x2)))


def _blocks(sign):
    def rule(x, block_size, data_format="channels_last"):
        shape = list(_shape(x))
        if len(shape) != 4:
            raise ValueError(f"inputs must be 4-D; got shape {tuple(shape)}")
        b = int(block_size)
        c_ax, sp = (3, (1, 2)) if data_format == "channels_last" else (1, (2, 3))

        def f(d, mul):
            return None if d is None else (d * mul if mul >= 1 else d // int(round(1 / mul)))

        for a in sp:
            shape[a] = f(shape[a], b if sign > 0 else 1 / b)
        shape[c_ax] = f(shape[c_ax], 1 / (b * b) if sign > 0 else b * b)
        return _kt(shape, _dtype(x))

    return rule


def _adaptive(inputs, output_size, data_format=None):
    from fastnet.backend import image_data_format

    shape = list(_shape(inputs))
    nd = len(shape) - 2
    sizes = (output_size,) * nd if isinstance(output_size, int) else tuple(output_size)
    first = 2 if (data_format or image_data_format()) == "channels_first" else 1
    for i, s in enumerate(sizes):
        shape[first + i] = int(s)
    return _kt(shape, _float_of(_dtype(inputs)))


def _pair2(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    n, c, h, w = _shape(x)
    (kh, kw), (dh, dw) = _pair2(kernel_size), _pair2(dilation)
    (ph, pw), (sh, sw) = _pair2(padding), _pair2(stride)

    def out(d, k, dd, p, s):
        return None if d is None else (d + 2 * p - (k - 1) * dd - 1) // s + 1

    oh, ow = out(h, kh, dh, ph, sh), out(w, kw, dw, pw, sw)
    return _kt((n, None if c is None else c * kh * kw,
                None if oh is None or ow is None else oh * ow), _dtype(x))


def _fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    n, ckk, _ = _shape(x)
    kh, kw = _pair2(kernel_size)
    oh, ow = _pair2(output_size)
    return _kt((n, None if ckk is None else ckk // (kh * kw), int(oh), int(ow)), _dtype(x))


_register("glu", _glu)
_register("multi_hot", _multi_hot)
_register("psnr", _psnr)
_register("depth_to_space", _blocks(+1))
_register("space_to_depth", _blocks(-1))
_register("adaptive_average_pool adaptive_max_pool", _adaptive)
_register("unfold", _unfold)
_register("fold", _fold)


# ---- control flow (fastnet/ops/control_flow.py): the branch / body functions called on
# KerasTensors, as Keras's Cond, WhileLoop, Scan, ... ops do ----------------------------------
def _cf():
    from fastnet.ops import control_flow

    return control_flow


def _spec_of(x):
    return _kt(_shape(x), _dtype(x))


def _specs_of(s):
    cf = _cf()
    return cf._pack_like(s, [None if v is None else _spec_of(v) for v in cf._flatten(s)])


def _merge(a, b, what):
    cf = _cf()
    fa, fb = cf._flatten(a), cf._flatten(b)
    if len(fa) != len(fb):
        raise ValueError(f"{what}: the branches return different structures ({len(fa)} and "
                         f"{len(fb)} tensors)")
    out = []
    for x, y in zip(fa, fb):
        sx, sy = _shape(x), _shape(y)
        if len(sx) != len(sy) or _dtype(x) != _dtype(y):
            raise ValueError(f"{what}: the branches return tensors of different rank or dtype "
                             f"({tuple(sx)} {_dtype(x)} and {tuple(sy)} {_dtype(y)})")
        out.append(_kt(tuple(p if p == q else None for p, q in zip(sx, sy)), _dtype(x)))
    return cf._pack_like(a, out)


def _cond(pred, true_fn, false_fn):
    return _merge(true_fn(), false_fn(), "cond")


def _switch(index, branches, *operands):
    outs = [b(*operands) for b in branches]
    res = outs[0]
    for o in outs[1:]:
        res = _merge(res, o, "switch")
    return _specs_of(res)


def _while_loop(cond, body, loop_vars, maximum_iterations=None):
    return _specs_of(loop_vars)


def _fori_loop(lower, upper, body_fun, init_val):
    return _specs_of(init_val)


def _unstacked(s):
    cf = _cf()
    return cf._pack_like(s, [_kt(_shape(v)[1:], _dtype(v)) for v in cf._flatten(s)])


def _stacked(s, n):
    cf = _cf()
    return cf._pack_like(s, [_kt((n,) + tuple(_shape(v)), _dtype(v)) for v in cf._flatten(s)])


def _scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    n = length if length is not None else _shape(_cf()._flatten(xs)[0])[0]
    carry, y = f(_specs_of(init), None if xs is None else _unstacked(xs))
    return _specs_of(carry), (None if y is None else _stacked(y, n))


def _map(f, xs):
    return _stacked(f(_unstacked(xs)), _shape(_cf()._flatten(xs)[0])[0])


def _vectorized_map(function, elements):
    if isinstance(elements, (list, tuple)):
        return _stacked(function([_kt(_shape(e)[1:], _dtype(e)) for e in elements]),
                        _shape(elements[0])[0])
    return _stacked(function(_kt(_shape(elements)[1:], _dtype(elements))),
                    _shape(elements)[0])


def _associative_scan(f, elems, reverse=False, axis=0):
    return _specs_of(elems)


_register("cond", _cond)
_register("switch", _switch)
_register("while_loop", _while_loop)
_register("fori_loop", _fori_loop)
_register("scan", _scan)
_register("map", _map)
_register("vectorized_map", _vectorized_map)
_register("associative_scan", _associative_scan)


# ---- more keras.ops.numpy / keras.ops.math names (numpy_extra.py, updates.py) ---------------
_register("real conj conjugate", _same)
_register("i0 erfinv", _float_valued)


def _angle(x):
    return _kt(_shape(x), _float_of(_dtype(x)))


def _int_binary_rule(x, y):
    return _kt(broadcast_shapes(_shape(x), _shape(y)), _promote(x, y))


def _imag(x):
    return _kt(_shape(x), _dtype(x))


def _append(x1, x2, axis=None):
    if axis is None:
        def n(s):
            return None if None in s else int(np.prod(s))

        a, b = n(_shape(x1)), n(_shape(x2))
        return _kt((None if a is None or b is None else a + b,), _promote(x1, x2))
    return SPECS["concatenate"]([x1, x2], axis=axis)


def _argpartition(x, kth, axis=-1):
    return _kt(_shape(x), "int32")


def _diagflat(x, k=0):
    s = _shape(x)
    n = None if None in s else int(np.prod(s)) + abs(int(k))
    return _kt((n, n), _dtype(x))


def _corrcoef(x):
    s = _shape(x)
    return _kt(() if len(s) == 1 else (s[0], s[0]), _float_of(_dtype(x)))


def _correlate(x1, x2, mode="valid"):
    a, b = _shape(x1)[0], _shape(x2)[0]
    if a is None or b is None:
        n = None
    elif mode == "full":
        n = a + b - 1
    elif mode == "same":
        n = max(a, b)
    else:
        n = max(a, b) - min(a, b) + 1
    return _kt((n,), _float_of(_promote(x1, x2)))


def _histogram(x, bins=10, range=None):  # noqa: A002
    return _kt((int(bins),), "int32"), _kt((int(bins) + 1,), _float_of(_dtype(x)))


def _ldexp(x1, x2):
    return _kt(broadcast_shapes(_shape(x1), _shape(x2)), _float_of(_dtype(x1)))


def _nanarg(x, axis=None, keepdims=False):
    return _kt(_reduced(_shape(x), axis, keepdims), "int32")


def _nancum(x, axis=None, dtype=None):
    return _cumulative(x, axis, dtype)


def _nanquantile(x, q, axis=None, method="linear", keepdims=False):
    qs = np.shape(q if not isinstance(q, KerasTensor) else np.zeros(q.shape))
    return _kt(tuple(qs) + _reduced(_shape(x), axis, keepdims), _float_of(_dtype(x)))


def _nanmedian(x, axis=None, keepdims=False):
    return _kt(_reduced(_shape(x), axis, keepdims), _float_of(_dtype(x)))


def _slogdet(x):
    s = tuple(_shape(x)[:-2])
    dt = _float_of(_dtype(x))
    return _kt(s, dt), _kt(s, dt)


def _data_dependent(name):
    def rule(*args, **kwargs):
        if name == "unique" and kwargs.get("size") is not None:
            x = args[0]
            if kwargs.get("axis") is None and not any(kwargs.get(k) for k in (
                    "return_index", "return_inverse", "return_counts")):
                return _kt((int(kwargs["size"]),), _dtype(x))
        raise NotImplementedError(f"ops.{name} has a data-dependent output shape and cannot be "
                                  "called on symbolic tensors")

    return rule


def _unravel_index(indices, shape):
    return tuple(_kt(_shape(indices), "int32") for _ in shape)


def _view(x, dtype=None):
    if dtype is None:
        return _same(x)
    s = list(_shape(x))
    a, b = np.dtype(_dtype(x)).itemsize, np.dtype(standardize_dtype(dtype)).itemsize
    if s and s[-1] is not None:
        s[-1] = s[-1] * a // b
    return _kt(s, standardize_dtype(dtype))


def _cdist(x, y):
    return _kt(broadcast_shapes(_shape(x)[:-2], _shape(y)[:-2]) + (_shape(x)[-2],
               _shape(y)[-2]), _float_of(_promote(x, y)))


def _extract_sequences(x, sequence_length, sequence_stride):
    s = _shape(x)
    n = s[-1]
    num = None if n is None else 1 + (n - int(sequence_length)) // int(sequence_stride)
    return _kt(tuple(s[:-1]) + (num, int(sequence_length)), _dtype(x))


def _saturate_cast(x, dtype):
    return _kt(_shape(x), standardize_dtype(dtype))


def _scatter(indices, values, shape):
    return _kt(tuple(int(d) for d in shape), _dtype(values))


def _scatter_update(inputs, indices, updates, reduction=None):
    return _same(inputs)


def _slice_update(inputs, start_indices, updates):
    return _same(inputs)


_register("angle", _angle)
_register("bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift "
          "left_shift right_shift gcd lcm nextafter", _int_binary_rule)
_register("bitwise_invert bitwise_not", _same)
_register("imag", _imag)
_register("append", _append)
_register("argpartition", _argpartition)
_register("diagflat", _diagflat)
_register("corrcoef", _corrcoef)
_register("correlate", _correlate)
_register("histogram", _histogram)
_register("ldexp", _ldexp)
_register("nanargmax nanargmin", _nanarg)
_register("nancumsum nancumprod", _nancum)
_register("nanquantile nanpercentile", _nanquantile)
_register("nanmedian", _nanmedian)
_register("slogdet", _slogdet)
_register("unique", _data_dependent("unique"))
_register("unravel_index", _unravel_index)
_register("view", _view)
_register("cdist", _cdist)
_register("extract_sequences", _extract_sequences)
_register("saturate_cast", _saturate_cast)
_register("scatter", _scatter)
_register("scatter_update", _scatter_update)
_register("slice_update", _slice_update)


# ---- the newer keras.ops.image ops ---------------------------------------------------------------
def _image_same(images, *args, data_format=None, **kwargs):
    _image_axes(images, data_format)
    return _kt(_shape(images), _float_of(_dtype(images)))


def _sobel(images, data_format=None):
    _image_axes(images, data_format)
    return _kt(tuple(_shape(images)) + (2,), _float_of(_dtype(images)))


def _ssim(image1, image2, *args, data_format=None, **kwargs):
    s = _shape(image1)
    _image_axes(image1, data_format)
    return _kt(() if len(s) == 3 else (s[0],), _float_of(_dtype(image1)))


def _patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid",
                data_format=None):
    from fastnet.backend import image_data_format
    from fastnet.ops.spatial import conv_output_length

    shape = list(_shape(volumes))
    if len(shape) not in (4, 5):
        raise ValueError(f"extract_patches_3d: volumes must be rank 4 or 5; got {shape}")
    k = (size,) * 3 if isinstance(size, int) else tuple(size)
    s = k if strides is None else ((strides,) * 3 if isinstance(strides, int)
                                   else tuple(strides))
    d = dilation_rate if isinstance(dilation_rate, int) else dilation_rate[0]
    off = len(shape) - 4
    first = (data_format or image_data_format()) == "channels_first"
    sp = [off + 1 + i for i in range(3)] if first else [off + i for i in range(3)]
    c = off if first else off + 3
    for ax, kk, ss in zip(sp, k, s):
        shape[ax] = None if shape[ax] is None else conv_output_length(shape[ax], kk, ss,
                                                                      padding, d)
    shape[c] = None if shape[c] is None else int(np.prod(k)) * shape[c]
    return _kt(shape, _dtype(volumes))


_register("rgb_to_hsv hsv_to_rgb gaussian_blur elastic_transform", _image_same)
_register("perspective_transform", _image_same)
_register("sobel_edges", _sobel)
_register("ssim", _ssim)
_register("extract_patches_3d", _patches_3d)


def _ctc_loss(target, output, target_length, output_length, mask_index=0):
    return _kt((_shape(output)[0],), _float_of(_dtype(output)))


def _ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1,
                merge_repeated=True, mask_index=0):
    b, t = _shape(inputs)[:2]
    paths = 1 if strategy == "greedy" else int(top_paths)
    return _kt((paths, b, t), "int32"), _kt((b, paths), _float_of(_dtype(inputs)))


_register("ctc_loss", _ctc_loss)
_register("ctc_decode", _ctc_decode)


def _istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann",
           center=True):
    re_shape = _shape(x[0])
    frames = re_shape[-2]
    if length is not None:
        n = int(length)
    elif frames is None:
        n = None
    else:
        n = fft_length + sequence_stride * (frames - 1) - (2 * (fft_length // 2) if center
                                                           else 0)
    return _kt(tuple(re_shape[:-2]) + (n,), _float_of(_dtype(x[0])))


def _segment_prod(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    if num_segments is None:
        raise NotImplementedError("ops.segment_prod on symbolic tensors needs num_segments")
    return _kt((int(num_segments),) + tuple(_shape(data)[1:]), _dtype(data))


def _rearrange(tensor, pattern, **axes_lengths):
    from fastnet.ops.einops import _plan

    shape = _shape(tensor)
    if None in shape:  # the unknown dims: plan at two sizes, keep what does not follow them
        a = _plan(tuple(2 if d is None else d for d in shape), pattern, axes_lengths)[2]
        b = _plan(tuple(3 if d is None else d for d in shape), pattern, axes_lengths)[2]
        return _kt(tuple(p if p == q else None for p, q in zip(a, b)), _dtype(tensor))
    return _kt(_plan(shape, pattern, axes_lengths)[2], _dtype(tensor))


def _lu_factor(x):
    s = _shape(x)
    k = None if s[-1] is None or s[-2] is None else min(s[-1], s[-2])
    return _kt(s, _float_of(_dtype(x))), _kt(tuple(s[:-2]) + (k,), "int32")


_register("istft", _istft)
_register("segment_prod", _segment_prod)
_register("rearrange", _rearrange)
_register("lu_factor", _lu_factor)


def _scale_and_translate(images, output_shape, *args, **kwargs):
    dt = _dtype(images)
    return _kt(tuple(int(s) for s in output_shape), dt)


_register("scale_and_translate", _scale_and_translate)
