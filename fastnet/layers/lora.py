"""LoRA (low-rank adaptation) for Dense, Embedding and EinsumDense, as Keras 3's
``enable_lora``.

``layer.enable_lora(rank, lora_alpha=None)`` (or ``lora_rank=`` at construction, applied
when the layer builds) freezes the main weight W and adds two trainable factors A
(W's shape with its last axis replaced by rank), zero-initialised B (rank, W's last
axis): the layer then uses ``W + (lora_alpha / rank) * A @ B``. As in Keras, files hold the merged weight and no
factors (loading one assigns W and zeroes the factors), ``weights`` keep the creation
order (W, bias, A, B), and the config carries ``lora_rank`` / ``lora_alpha``.
Unlike Keras 3.15, a ``lora_alpha`` given at construction is kept when the layer builds
(Keras resets it to the rank there), and the factors take the layer's dtype (Keras makes
them float32 always, against low-precision underflow; fastnet computes in float32 or
float64).
"""

from __future__ import annotations

import numpy as np

from fastnet import initializers as initializers_mod
from fastnet import ops


class LoRAMixin:
    """For a layer whose main weight lives in ``self._<name>`` (``_lora_weight_name``)."""

    _lora_weight_name = "kernel"

    def _init_lora(self, lora_rank, lora_alpha):
        if lora_rank is not None and (isinstance(lora_rank, bool) or not isinstance(
                lora_rank, (int, np.integer)) or lora_rank < 1):
            raise ValueError(f"{type(self).__name__} {self.name!r}: `lora_rank` must be a "
                             f"positive integer. Received: lora_rank={lora_rank!r}")
        if lora_alpha is not None and lora_rank is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: `lora_alpha` needs "
                             f"`lora_rank`. Received: lora_alpha={lora_alpha}")
        self.lora_rank = None if lora_rank is None else int(lora_rank)
        self.lora_alpha = lora_alpha if lora_alpha is not None else self.lora_rank
        self.lora_enabled = False

    def _lora_main(self):
        return self.__dict__["_" + self._lora_weight_name]

    def _lora_factors(self):
        # Keras's attribute names: lora_kernel_a/_b (Dense), lora_embeddings_a/_b (Embedding)
        prefix = "lora_kernel" if self._lora_weight_name == "kernel" else "lora_embeddings"
        return getattr(self, f"{prefix}_a"), getattr(self, f"{prefix}_b")

    def _lora_merged(self):
        main = self._lora_main()
        if not self.lora_enabled:
            return main
        delta = ops.matmul(*self._lora_factors())
        return main + (self.lora_alpha / self.lora_rank) * delta

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform",
                    b_initializer="zeros"):
        where = f"{type(self).__name__} {self.name!r}"
        constraint = getattr(self, f"{self._lora_weight_name}_constraint", None)
        if constraint:
            raise ValueError(f"{where}: Lora is incompatible with {self._lora_weight_name} "
                             f"constraints. In order to enable lora on this layer, remove the "
                             f"`{self._lora_weight_name}_constraint` argument.")
        if not self.built:
            raise ValueError(f"{where}: Cannot enable lora on a layer that isn't yet built.")
        if self.lora_enabled:
            raise ValueError(f"{where}: lora is already enabled. This can only be done once per "
                             "layer.")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
            raise ValueError(f"{where}: the LoRA rank must be a positive integer. Received: "
                             f"rank={rank!r}")
        main = self._lora_main()
        regularizer = getattr(self, f"{self._lora_weight_name}_regularizer", None)
        prefix = "lora_kernel" if self._lora_weight_name == "kernel" else "lora_embeddings"
        a = self.add_weight(
            name=f"{prefix}_a", shape=tuple(main.shape[:-1]) + (int(rank),),
            initializer=initializers_mod.get(a_initializer),
            regularizer=regularizer)
        b = self.add_weight(
            name=f"{prefix}_b", shape=(int(rank), main.shape[-1]),
            initializer=initializers_mod.get(b_initializer),
            regularizer=regularizer)
        setattr(self, f"{prefix}_a", a)
        setattr(self, f"{prefix}_b", b)
        main.trainable = False
        self.lora_enabled = True
        self.lora_rank = int(rank)
        self.lora_alpha = lora_alpha if lora_alpha is not None else int(rank)

    # ---- files: the merged weight, no factors (as Keras's save/load_own_variables) ----
    def _lora_saved_values(self):
        main = self._lora_main()
        return [np.asarray((self._lora_merged() if w is main else w).numpy())
                for w in self._lora_load_targets()]

    def _lora_load_targets(self):
        if not self.lora_enabled:
            return list(self._own_weights)
        a, b = self._lora_factors()
        return [w for w in self._own_weights if w is not a and w is not b]

    def _lora_after_load(self):
        if not self.lora_enabled:
            return []
        return [(w, np.zeros(w.shape, np.asarray(w.numpy()).dtype))
                for w in self._lora_factors()]

    def _lora_config(self):
        if not self.lora_rank:
            return {}
        return {"lora_rank": self.lora_rank, "lora_alpha": self.lora_alpha}
