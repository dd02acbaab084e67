"""The Layer base class: an Operation (fastnet/ops/operation.py) with state, building,
calling (eager and symbolic) and tracking.

Eager call:    inputs → build on first call from their shapes → check input_spec
               → call() under the training context → outputs (Tensors).
Symbolic call: KerasTensor inputs → build → check input_spec → symbolic_call:
               compute_output_spec (from compute_output_shape; no kernel runs) and a
               Node recording the call → KerasTensor outputs. Only a user layer that
               defines neither compute_output_shape nor compute_output_spec falls back
               to a dry run of call() on small dummy tensors (twice, to find which dims
               are None).
"""

from __future__ import annotations

import functools
import inspect
import os
import threading

import numpy as np

from fastnet import constraints as constraints_mod
from fastnet import initializers as initializers_mod
from fastnet import ops
from fastnet import regularizers as regularizers_mod
from fastnet.backend.name_scope import current_path, enter_layer_scope, exit_layer_scope, name_scope
from fastnet.backend.symbolic import KerasTensor
from fastnet.backend.tape import stop_recording_all
from fastnet.backend.tensor import Tensor, Variable, standardize_dtype
from fastnet.ops.operation import Node, Operation, _flatten, _map, dummy_value

__all__ = ["Layer", "InputSpec", "Node"]

_context = threading.local()
# bumped by every public attribute set on a layer: a subclassed model's traced call
# (fastnet/plan/trace.py) may branch on such attributes, so the plan checks them again
attr_version = [0]


def _current_training():
    return getattr(_context, "training", None)


def _is_shape(shape):
    return isinstance(shape, (tuple, list)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in shape)


class InputSpec:
    """Constraints a layer puts on its input: ndim, min/max ndim, axis sizes, dtype."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None):
        self.dtype = dtype
        self.shape = tuple(shape) if shape is not None else None
        self.ndim = len(shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = dict(axes or {})
        self.name = name


def _shape_struct(struct):
    return _map(lambda t: tuple(t.shape), struct)


def _is_tensorlike(x):
    return isinstance(x, (Tensor, KerasTensor, np.ndarray))


_FLOAT_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64"})
_FLAG_KWARGS = frozenset({"training", "mask"})


def _autocast_input(x, dtype):
    """One argument as a layer receives it: arrays become Tensors, floating ones (and floating
    Tensors) in `dtype`; integer, bool and string values are left as they are."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "USO":  # strings stay numpy arrays (the lookup layers read them)
            return x
        return ops.convert_to_tensor(x, dtype=dtype if x.dtype.kind == "f" else None)
    if isinstance(x, Tensor) and x.dtype != dtype and x.dtype in _FLOAT_DTYPES:
        y = ops.cast(x, dtype)
        mask = getattr(x, "_keras_mask", None)
        if mask is not None:  # the mask travels with the tensor (Keras keeps it too)
            y._keras_mask = mask
        return y
    return x


def _scoped_build(build):
    """A layer's ``build`` run in the layer's name scope (Keras's build wrapper), so the
    weights it creates, and those of the sub-layers it builds, get the layer's path."""
    @functools.wraps(build)
    def build_wrapper(self, *args, **kwargs):
        pushed = enter_layer_scope(self)
        try:
            self._path = current_path()
            return build(self, *args, **kwargs)
        finally:
            if pushed:
                exit_layer_scope()

    build_wrapper._name_scoped = True
    return build_wrapper


class Layer(Operation):
    """Base class of every layer (and of Model): an Operation with state."""

    _tracking_ready = False
    # Keras's name-scope state: the path the layer's first scope hung from (fixed then),
    # and the path of the layer itself, set by build
    _parent_path = None
    _path = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if callable(build) and not getattr(build, "_name_scoped", False):
            cls.build = _scoped_build(build)

    def __init__(self, trainable=True, name=None, dtype=None, autocast=True,
                 input_shape=None, input_dim=None, batch_input_shape=None, batch_size=None,
                 input_length=None, activity_regularizer=None, **kwargs):
        if kwargs:
            unknown = ", ".join(sorted(kwargs))
            raise ValueError(f"{type(self).__name__}: unrecognized keyword argument(s): {unknown}")
        object.__setattr__(self, "_tracking_ready", False)
        self._layers = []
        self._own_weights = []
        self._losses = []
        Operation.__init__(self, name=name)
        self._trainable = trainable
        self.built = False
        self.input_spec = None
        # as Keras: a layer that overrides compute_mask supports masking by default
        # (unless the instance or its class already said otherwise)
        if "supports_masking" not in vars(self) and \
                type(self).supports_masking is Operation.supports_masking:
            self.supports_masking = type(self).compute_mask is not Layer.compute_mask
        if isinstance(dtype, str) and (dtype.startswith("mixed_") or ":" in dtype):
            from fastnet.dtype_policies import DTypePolicy

            DTypePolicy(dtype)  # a policy name: refused by name (or ValueError), as there
        self.dtype = standardize_dtype(dtype.name if hasattr(dtype, "name") else dtype)
        self.autocast = bool(autocast)
        self._build_shapes = None
        # Keras 3's Layer takes activity_regularizer for every layer (Embedding writes it)
        if activity_regularizer is not None:
            from fastnet import regularizers

            activity_regularizer = regularizers.get(activity_regularizer)
        self.activity_regularizer = activity_regularizer
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + tuple(input_shape)
        else:
            self._batch_input_shape = None
        self._call_has_training = "training" in inspect.signature(self.call).parameters
        self._call_has_mask = "mask" in inspect.signature(self.call).parameters
        object.__setattr__(self, "_tracking_ready", True)

    # ---- attribute tracking ------------------------------------------------------
    def __setattr__(self, name, value):
        if self._tracking_ready and not name.startswith("_"):
            self._track(value)
            attr_version[0] += 1
        object.__setattr__(self, name, value)

    def _track(self, value):
        if isinstance(value, Layer):
            if value is not self and not any(value is lay for lay in self._layers):
                self._layers.append(value)
        elif isinstance(value, Variable):
            if not any(value is w for w in self._own_weights):
                self._own_weights.append(value)
                if not hasattr(value, "_trainable_at_creation"):
                    value._trainable_at_creation = value.trainable
        elif isinstance(value, (list, tuple)):
            for v in value:
                self._track(v)
        elif isinstance(value, dict):
            for v in value.values():
                self._track(v)

    def _check_super_init(self):
        if "_layers" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() in __init__ "
                               "before using the layer")

    # ---- weights --------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   name=None):
        self._check_super_init()
        shape = tuple(shape or ())
        dtype = standardize_dtype(dtype or self.dtype)
        _check_weight_shape(self, name, shape, dtype)
        if initializer is None:
            initializer = "glorot_uniform" if np.dtype(dtype).kind == "f" else "zeros"
        init = initializers_mod.get(initializer)
        with name_scope(self.name, caller=self):  # the path: <scopes>/<layer>/<name>
            var = Variable(init, shape=shape, dtype=dtype, trainable=trainable,
                           name=name or f"variable_{len(self._own_weights)}")
        var.regularizer = regularizers_mod.get(regularizer)
        var.constraint = constraints_mod.get(constraint)
        var._trainable_at_creation = bool(trainable)  # fixes its place in `weights`
        self._own_weights.append(var)
        return var

    add_variable = add_weight

    @property
    def path(self):
        """The layer's path (``sequential/enc``): the name scopes it was built in, then
        its name; None until it is built (as Keras)."""
        return self._path

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for lay in self._layers:
            lay.trainable = value

    def _all_weights(self):
        """Keras 3's `weights` order: this layer's own trainable weights, then its own
        non-trainable ones (each in creation order), then each sub-layer's weights in
        that same order, recursively (so a BatchNormalization's moving statistics stay
        beside its gamma/beta, and a frozen sub-layer keeps its place)."""
        seen, out = set(), []
        # placed by trainability at creation, as Keras's lists: freezing a weight later
        # (LoRA freezes the kernel) does not move it
        made_trainable = [getattr(w, "_trainable_at_creation", w.trainable)
                          for w in self._own_weights]
        own = [w for w, t in zip(self._own_weights, made_trainable) if t] + \
              [w for w, t in zip(self._own_weights, made_trainable) if not t]
        for w in own:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        for lay in self._layers:
            for w in lay._all_weights():
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    @property
    def weights(self):
        return self._all_weights()

    @property
    def variables(self):
        """All the layer's state, as Keras 3: its weights, then the state of every
        ``SeedGenerator`` it or a sub-layer holds (restoring them replays the random draws)."""
        out = list(self.weights)
        seen = {id(v) for v in out}
        for state in self._seed_states():
            if id(state) not in seen:
                seen.add(id(state))
                out.append(state)
        return out

    def _seed_states(self):
        from fastnet.random import SeedGenerator

        for value in vars(self).values():
            if isinstance(value, SeedGenerator):
                yield value.state
        for lay in self._layers:
            yield from lay._seed_states()

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        out, seen = [], set()
        for w in self._own_weights:
            if w.trainable and id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        for lay in self._layers:
            for w in lay.trainable_weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self._all_weights() if id(w) not in trainable]

    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        return [np.array(w.numpy()) for w in self.weights]

    def set_weights(self, weights):
        params = self.weights
        if len(weights) != len(params):
            raise ValueError(f"Layer {self.name!r} expected {len(params)} weights, but received "
                             f"{len(weights)} input weights.")
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(p.shape) != tuple(w.shape):
                raise ValueError(f"Layer {self.name!r} weight shape {tuple(p.shape)} is not "
                                 f"compatible with provided weight shape {tuple(w.shape)}.")
        for p, w in zip(params, weights):
            p.assign(np.asarray(w, dtype=p.dtype))

    def count_params(self):
        if not self.built and not self.weights:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but the "
                             "layer isn't built. You can build it manually via: "
                             f"`{self.name}.build(batch_input_shape)`.")
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    @property
    def layers(self):
        return list(self._layers)

    # ---- losses -----------------------------------------------------------------------
    def add_loss(self, loss):
        self._losses.append(loss)

    def _flatten_layers(self):
        """self and every nested layer, each once (depth first)."""
        out, seen, stack = [], set(), [self]
        while stack:
            lay = stack.pop()
            if id(lay) in seen:
                continue
            seen.add(id(lay))
            out.append(lay)
            stack.extend(reversed(lay._layers))
        return out

    @property
    def losses(self):
        """As Keras: the `add_loss` losses (activity regularizers included) of this
        layer and its sub-layers since the last top-level call, then the regularizer
        of every trainable weight."""
        out = []
        for lay in self._flatten_layers():
            out.extend(lay._losses)
        for w in self.trainable_weights:
            if w.regularizer is not None:
                out.append(w.regularizer(w))
        return out

    def _clear_losses(self):
        if self._losses:
            self._losses = []
        for lay in self._layers:
            lay._clear_losses()

    # ---- building ---------------------------------------------------------------------
    def build(self, input_shape=None):
        """The default build: a layer whose sub-layers are created in ``__init__``
        builds them by running ``call`` once on zeros of ``input_shape`` (what Keras
        does on the first call), so ``layer.build(shape)`` leaves no unbuilt state.
        If ``call`` cannot run on one input of that shape, Keras's warning."""
        if (input_shape is not None and not self.built and _is_shape(input_shape)
                and type(self).call is not Layer.call
                and any(not lay.built for lay in self._flatten_layers()[1:])):
            try:
                self._build_by_run(tuple(input_shape))
            except Exception as e:  # noqa: BLE001 - any failure of user code: warn as Keras
                import warnings

                warnings.warn(f"`build()` was called on layer '{self.name}', however the layer "
                              f"does not have a `build()` method implemented and it has unbuilt "
                              f"sub-layers; running its `call()` on zeros of shape "
                              f"{tuple(input_shape)} to build them failed ({e}). The layer is "
                              f"marked as built; its sub-layers build on the first call.",
                              stacklevel=2)
        self.built = True

    def _build_by_run(self, shape):
        dummy = ops.zeros(tuple(2 if d is None else d for d in shape), dtype=self.dtype)
        saved = [(lay, list(lay._losses)) for lay in self._flatten_layers()]
        with stop_recording_all():
            try:
                self._call_with_context((dummy,), {"training": False})
            finally:
                for lay, losses in saved:
                    lay._losses = losses

    def _maybe_build(self, shapes):
        if self.built:
            return
        self._build_shapes = shapes
        if type(self).build is Layer.build:
            # the call that follows builds the sub-layers; no extra run needed
            pushed = enter_layer_scope(self)
            self._path = current_path()
            if pushed:
                exit_layer_scope()
            self.built = True
            return
        sig = inspect.signature(self.build)
        if len(sig.parameters) == 0:
            self.build()
        else:
            self.build(shapes[0] if isinstance(shapes, list) and len(shapes) == 1 else shapes)
        self.built = True

    def compute_output_shape(self, input_shape):
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        if not self.supports_masking:
            return None
        return mask

    # ---- input checks -------------------------------------------------------------------
    def _check_input_spec(self, inputs):
        if self.input_spec is None:
            return
        specs = self.input_spec if isinstance(self.input_spec, (list, tuple)) else [self.input_spec]
        flat = _flatten(inputs)
        for i, (spec, x) in enumerate(zip(specs, flat)):
            if spec is None or x is None:
                continue
            shape = tuple(x.shape)
            where = f'Input {i} of layer "{self.name}" is incompatible with the layer: '
            if spec.ndim is not None and len(shape) != spec.ndim:
                raise ValueError(f"{where}expected ndim={spec.ndim}, found ndim={len(shape)}. "
                                 f"Full shape received: {shape}")
            if spec.min_ndim is not None and len(shape) < spec.min_ndim:
                raise ValueError(f"{where}expected min_ndim={spec.min_ndim}, found "
                                 f"ndim={len(shape)}. Full shape received: {shape}")
            if spec.max_ndim is not None and len(shape) > spec.max_ndim:
                raise ValueError(f"{where}expected max_ndim={spec.max_ndim}, found "
                                 f"ndim={len(shape)}. Full shape received: {shape}")
            for axis, size in spec.axes.items():
                if size is None or not shape:
                    continue
                dim = shape[axis] if -len(shape) <= axis < len(shape) else None
                if dim is not None and dim != size:
                    raise ValueError(f"{where}expected axis {axis} of input shape to have value "
                                     f"{size}, but received input with shape {shape}")
            if spec.shape is not None:
                for want, got in zip(spec.shape, shape):
                    if want is not None and got is not None and want != got:
                        raise ValueError(f"{where}expected shape={spec.shape}, found "
                                         f"shape={shape}")

    # ---- calling ------------------------------------------------------------------------
    def call(self, inputs, *args, **kwargs):
        return inputs

    def __call__(self, *args, **kwargs):
        self._check_super_init()
        # build and call run in the layer's name scope (the paths of the weights they
        # create: Keras's Layer.__call__)
        pushed = enter_layer_scope(self)
        try:
            return self._call_entry(args, kwargs)
        except (*_NAMED_ERRORS, MemoryError) as e:
            named = layer_error(self, e)
            if named is None:
                raise
            raise named from None
        finally:
            if pushed:
                exit_layer_scope()

    def _call_entry(self, args, kwargs):
        if not args:
            if "inputs" in kwargs:
                args = (kwargs.pop("inputs"),)
            else:
                raise ValueError(f"Layer {self.name!r}: missing the `inputs` argument")
        inputs = args[0]
        flat = _flatten([args, list(kwargs.values())])
        if any(isinstance(t, KerasTensor) for t in flat):
            return self._symbolic_call(args, kwargs)
        target = self._input_dtype()
        if target is None:
            inputs = _map(lambda x: ops.convert_to_tensor(x) if isinstance(x, np.ndarray) else x,
                          inputs)
            args = (inputs,) + tuple(args[1:])
        elif len(args) == 1 and not kwargs.keys() - _FLAG_KWARGS and isinstance(
                inputs, Tensor) and inputs.dtype == target:
            pass  # the common case: one Tensor, already in the compute dtype
        else:  # Keras 3: floating inputs (arrays or tensors) arrive in the compute dtype
            args = _map(lambda x: _autocast_input(x, target), args)
            kwargs = {k: v if k in _FLAG_KWARGS else _map(
                lambda x: _autocast_input(x, target), v) for k, v in kwargs.items()}
            inputs = args[0]
        # Masks travel on the tensors, as in Keras 3: a `mask` argument left out is taken
        # from the inputs' `_keras_mask`, and a layer that supports masking attaches
        # compute_mask's result to its outputs.
        previous_mask = kwargs.get("mask")
        if previous_mask is None:
            previous_mask = _input_masks(inputs)
            if previous_mask is not None and self._call_has_mask:
                kwargs["mask"] = previous_mask
        entry = getattr(_context, "entry_layer", None) is None
        if entry:  # a top-level call: `losses` restart (Keras's call context)
            self._clear_losses()
            _context.entry_layer = self
        try:
            self._maybe_build(self._build_shape_arg(inputs))
            self._check_input_spec(inputs)
            out = self._call_with_context(args, kwargs)
            if self.supports_masking:
                self._set_output_masks(inputs, out, previous_mask)
            return out
        finally:
            if entry:
                _context.entry_layer = None

    # Layers that take raw data of any dtype (strings, ints, images as uint8) opt out, as in Keras.
    _convert_input_args = True

    def _input_dtype(self):
        """The dtype floating inputs are cast to (the compute dtype), or None for no cast."""
        if not (self.autocast and self._convert_input_args):
            return None
        dtype = self.dtype
        return dtype if dtype in _FLOAT_DTYPES else None

    @property
    def compute_dtype(self):
        return self.dtype

    @property
    def variable_dtype(self):
        return self.dtype

    @property
    def input_dtype(self):
        return self.dtype

    def _set_output_masks(self, inputs, outputs, previous_mask):
        """Keras's _set_mask_metadata: compute_mask's masks onto the outputs that have
        none (the first output mask to the first output, and so on)."""
        flat = [t for t in _flatten(outputs) if isinstance(t, (Tensor, KerasTensor))]
        if not flat or all(_get_mask(t) is not None for t in flat):
            return
        masks = self.compute_mask(inputs, previous_mask)
        if masks is None:
            return
        for t, m in zip(flat, _flatten(masks)):
            if m is not None and _get_mask(t) is None:
                t._keras_mask = m

    def _build_shape_arg(self, inputs):
        if isinstance(inputs, (list, tuple)):
            return [tuple(t.shape) if hasattr(t, "shape") else None for t in inputs]
        if isinstance(inputs, dict):
            return {k: tuple(v.shape) for k, v in inputs.items()}
        return tuple(inputs.shape)

    def _call_with_context(self, args, kwargs):
        training = kwargs.get("training", None)
        prev = _current_training()
        if training is None:
            training = prev
        if self._call_has_training:
            kwargs["training"] = training
        else:
            kwargs.pop("training", None)
        if not self._call_has_mask:
            kwargs.pop("mask", None)
        _context.training = training
        try:
            out = self.call(*args, **kwargs)
        finally:
            _context.training = prev
        if self.activity_regularizer is not None:
            for o in _flatten(out):
                if not isinstance(o, Tensor):
                    continue
                loss = self.activity_regularizer(o)
                if o.ndim and o.shape[0]:  # Keras 3: normalised by the batch size
                    loss = loss / float(o.shape[0])
                self.add_loss(loss)
        return out

    # ---- symbolic -----------------------------------------------------------------------
    def _symbolic_call(self, args, kwargs):
        inputs = args[0]
        shapes = self._build_shape_arg(inputs)
        self._maybe_build(shapes)
        self._check_input_spec(inputs)
        # The symbolic masks are metadata (`x._keras_mask` of a KerasTensor, and the mask
        # a dry run of call() receives); the node records no mask argument: a functional
        # model recomputes the masks from the data when it runs.
        previous_mask = kwargs.get("mask")
        if previous_mask is None:
            previous_mask = _input_masks(inputs)
        inline = getattr(_context, "trace_inline", None)
        if inline is not None and inline(self):
            # a model's call traced for the compiled plan (fastnet/plan/trace.py): this
            # layer's own call runs on the symbolic tensors, so the layers it calls
            # record their nodes (a graph of built-in layers, not one opaque node)
            return self._call_with_context(args, kwargs)
        self._dry_run_mask = previous_mask if (self._call_has_mask
                                               and kwargs.get("mask") is None) else None
        try:
            out = self.symbolic_call(*args, **kwargs)
        finally:
            self._dry_run_mask = None
        if self.supports_masking:
            self._set_symbolic_masks(inputs, out, previous_mask)
        return out

    def _set_symbolic_masks(self, inputs, outputs, previous_mask):
        """The output masks as KerasTensors: compute_mask run on small concrete stand-ins
        (unknown dims 2, then 3, as the dry run of call), so a compute_mask written with
        ops that have no symbolic rule, or with numpy (Masking), works too."""
        flat = [t for t in _flatten(outputs) if isinstance(t, KerasTensor)]
        if not flat or all(_get_mask(t) is not None for t in flat):
            return
        if previous_mask is None and type(self).compute_mask is Layer.compute_mask:
            return  # the default passes a mask through: nothing to compute
        results = []
        for fill in (2, 3):
            def concrete(x, fill=fill):
                return ops.convert_to_tensor(dummy_value(x, fill)) \
                    if isinstance(x, KerasTensor) else x
            with stop_recording_all():
                try:
                    masks = self.compute_mask(_map(concrete, inputs),
                                              None if previous_mask is None
                                              else _map(concrete, previous_mask))
                except Exception:  # noqa: BLE001 - a mask that depends on real values:
                    return  # no symbolic mask; the functional run computes the real one
            if masks is None:
                return
            results.append(_flatten(masks))
        for t, a, b in zip(flat, *results):
            if a is None or b is None or _get_mask(t) is not None:
                continue
            a, b = np.asarray(ops.convert_to_numpy(a)), np.asarray(ops.convert_to_numpy(b))
            t._keras_mask = KerasTensor(
                tuple(None if p != q else p for p, q in zip(a.shape, b.shape)), str(a.dtype))

    def compute_output_spec(self, *args, **kwargs):
        """The output as KerasTensors (shape and dtype), from the inputs' specs.

        Built-in layers answer through ``compute_output_shape`` (or their own
        ``compute_output_spec``) and run nothing. Only a user layer that defines
        neither falls back to a dry run of ``call`` on small dummy tensors (twice:
        unknown dims at 2, then 3, to see which output dims follow them)."""
        return _map(lambda spec: KerasTensor(spec.shape, spec.dtype),
                    self._output_spec(args, kwargs))

    def _output_spec(self, args, kwargs):
        inputs = args[0]
        try:
            shape = self.compute_output_shape(_shape_struct(inputs))
            dtype = self._output_dtype(inputs)
            return _spec_struct(shape, dtype)
        except NotImplementedError:
            pass
        return self._dry_run_spec(args, kwargs)

    def _output_dtype(self, inputs):
        return self.dtype if np.dtype(self.dtype).kind == "f" else "float32"

    def _dry_run_spec(self, args, kwargs):
        """Runs call() on dummy data twice (None dims = 2, then 3) to infer the output spec."""
        results = []
        for fill in (2, 3):
            concrete = _map(lambda x, fill=fill: ops.convert_to_tensor(dummy_value(x, fill))
                            if isinstance(x, KerasTensor) else x, (args, kwargs))
            cargs, ckwargs = concrete
            ckwargs = dict(ckwargs)
            ckwargs.setdefault("training", False)
            dry_mask = getattr(self, "_dry_run_mask", None)
            if dry_mask is not None and ckwargs.get("mask") is None:
                ckwargs["mask"] = _map(
                    lambda m, fill=fill: ops.convert_to_tensor(dummy_value(m, fill))
                    if isinstance(m, KerasTensor) else m, dry_mask)
            with stop_recording_all():
                # the dry run's activity losses are not losses of any real call
                saved = [(lay, list(lay._losses)) for lay in self._flatten_layers()]
                try:
                    out = self._call_with_context(tuple(cargs), ckwargs)
                finally:
                    for lay, losses in saved:
                        lay._losses = losses
            results.append(out)
        a, b = results

        def merge(x, y):
            shape = tuple(None if p != q else p for p, q in zip(x.shape, y.shape))
            return _Spec(shape, x.dtype)

        return _map2(merge, a, b)

    # ---- graph access -------------------------------------------------------------------
    def _node_attr(self, attr):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name!r} has never been called and thus has no "
                                 f"defined {attr}.")
        node = self._inbound_nodes[0]
        if attr == "output":
            return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)
        ins = node.call_args[0]
        return ins

    @property
    def output(self):
        return self._node_attr("output")

    @property
    def input(self):
        return self._node_attr("input")

    # ---- config -------------------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_build_config(self):
        if self._build_shapes is not None:
            return {"input_shape": self._build_shapes}
        return None

    def build_from_config(self, config):
        if config and "input_shape" in config:
            self._maybe_build(config["input_shape"])

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# ---- errors that name the layer --------------------------------------------------------------

# As Keras ("Exception encountered when calling Dense.call()"): an error of these exact
# types raised inside a layer's build/call gets the layer's class and name in front, unless
# its message already names them (or an inner layer already added its own).
_NAMED_ERRORS = (ValueError, TypeError, NotImplementedError, IndexError)
_CONTEXT = "Exception encountered when calling"


# the default build too runs in the layer's scope (subclasses' builds are wrapped by
# Layer.__init_subclass__)
Layer.build = _scoped_build(Layer.build)


def _error_naming_layer(layer, e):
    if type(e) not in _NAMED_ERRORS:
        return None
    msg = str(e)
    cls = type(layer).__name__
    if _CONTEXT in msg or f"'{layer.name}'" in msg or f'"{layer.name}"' in msg:
        return None  # already names this layer (or an inner layer named itself)
    try:
        return type(e)(f"{_CONTEXT} {cls} {layer.name!r}: {msg}")
    except Exception:  # noqa: BLE001 - an exception class with another signature: keep it
        return None


def layer_error(layer, e):
    """The exception to raise instead of ``e`` (raised inside ``layer``'s build or call), or
    None to re-raise ``e``: Keras's calling context in front of the message, and a
    MemoryError for a size beyond this machine's memory as a ValueError naming the layer."""
    if isinstance(e, MemoryError):
        return _refused_size(layer, e)
    named = _error_naming_layer(layer, e)
    return None if named is None else named.with_traceback(e.__traceback__)


def _memory_bytes():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n):
    return f"{n / 2**30:,.1f} GiB"


def _check_weight_shape(layer, name, shape, dtype):
    """A weight with a negative or non-integer dimension, or one larger than this machine's
    memory, is refused before anything is allocated (units=2**40 is a ValueError naming the
    layer, not a MemoryError)."""
    where = f"{type(layer).__name__} {layer.name!r}: weight {name or 'variable'!r}"
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0:
            raise ValueError(f"{where} needs non-negative integer dimensions; its shape would be "
                             f"{shape}. Check the layer's size arguments.")
    nbytes = int(np.prod([int(d) for d in shape], dtype=object)) * np.dtype(dtype).itemsize
    limit = _memory_bytes()
    if limit is not None and nbytes > limit:
        raise ValueError(f"{where} of shape {shape} ({dtype}) would take {_gib(nbytes)}, more "
                         f"than this machine's memory ({_gib(limit)}). Check the layer's size "
                         "arguments.")


def check_array_size(layer, shape, dtype, what="output"):
    """Refuses (ValueError naming the layer) an array larger than this machine's memory
    before a kernel tries to allocate it."""
    nbytes = int(np.prod([int(d) for d in shape], dtype=object)) * np.dtype(dtype).itemsize
    limit = _memory_bytes()
    if limit is not None and nbytes > limit:
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: its {what} of shape "
                         f"{tuple(shape)} ({dtype}) would take {_gib(nbytes)}, more than this "
                         f"machine's memory ({_gib(limit)}). Check the layer's size arguments.")


def _refused_size(layer, e):
    """numpy's MemoryError for an array larger than the machine's memory (refused before any
    allocation) -> a ValueError naming the layer and the size. Real exhaustion stays a
    MemoryError."""
    shape, dtype = getattr(e, "shape", None), getattr(e, "dtype", None)
    limit = _memory_bytes()
    if shape is None or dtype is None or limit is None:
        return None
    nbytes = int(np.prod([int(d) for d in shape], dtype=object)) * np.dtype(dtype).itemsize
    if nbytes <= limit:
        return None
    return ValueError(f"{_CONTEXT} {type(layer).__name__} {layer.name!r}: an array of shape "
                      f"{tuple(shape)} ({dtype}) would take {_gib(nbytes)}, more than this "
                      f"machine's memory ({_gib(limit)}). Check the layer's size arguments.")


class _Spec:
    """A (shape, dtype) leaf of an output structure."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = dtype


def _is_shape(s):
    return isinstance(s, (tuple, list)) and all(v is None or isinstance(v, (int, np.integer))
                                                for v in s)


def _spec_struct(shape, dtype):
    """compute_output_shape result → _Spec leaves."""
    if _is_shape(shape):
        return _Spec(shape, dtype)
    if isinstance(shape, (list, tuple)):
        return [_spec_struct(s, dtype) for s in shape]
    if isinstance(shape, dict):
        return {k: _spec_struct(v, dtype) for k, v in shape.items()}
    raise TypeError(f"compute_output_shape returned an unexpected value: {shape!r}")


def _get_mask(x):
    return getattr(x, "_keras_mask", None)


def _input_masks(inputs):
    """The mask attached to `inputs` (a list of masks for a list of inputs), or None."""
    if isinstance(inputs, (list, tuple)):
        masks = [_get_mask(x) for x in inputs]
        return masks if any(m is not None for m in masks) else None
    return _get_mask(inputs)


def _map2(fn, a, b):
    if isinstance(a, dict):
        return {k: _map2(fn, a[k], b[k]) for k in a}
    if isinstance(a, (list, tuple)):
        return type(a)(_map2(fn, x, y) for x, y in zip(a, b))
    return fn(a, b)
