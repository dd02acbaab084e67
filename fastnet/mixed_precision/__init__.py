"""keras.mixed_precision: the dtype-policy functions under their mixed-precision names.

fastnet implements the float32 policy only (see fastnet.dtype_policies):
``set_global_policy("mixed_float16")`` raises NotImplementedError naming the policy
rather than training in float32 while claiming float16. LossScaleOptimizer is the
real one (exact on float32)."""

from fastnet.dtype_policies import DTypePolicy, global_policy, set_global_policy
from fastnet.optimizers import LossScaleOptimizer

Policy = DTypePolicy
dtype_policy = global_policy
set_dtype_policy = set_global_policy

__all__ = ["DTypePolicy", "Policy", "LossScaleOptimizer", "dtype_policy", "global_policy",
           "set_dtype_policy", "set_global_policy"]
