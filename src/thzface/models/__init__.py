"""Network models of thzface: shared blocks, encoders, decoders and one module per recipe's system."""

from thzface.models.multitask import (
    MtlModelConfig,
    MultiTaskModel,
    MultiTaskOutput,
    build_model,
    mtl_preset,
)
from thzface.models.profile import count_parameters, flops_per_sample

__all__ = [
    "MtlModelConfig",
    "MultiTaskModel",
    "MultiTaskOutput",
    "build_model",
    "count_parameters",
    "flops_per_sample",
    "mtl_preset",
]
