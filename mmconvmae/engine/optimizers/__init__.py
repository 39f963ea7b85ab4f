from .amp import AutocastOptimWrapper, cpu_bf16_support, cpu_instruction_set
from .layer_decay import LayerDecayOptimWrapperConstructor

__all__ = ['LayerDecayOptimWrapperConstructor', 'AutocastOptimWrapper', 'cpu_bf16_support', 'cpu_instruction_set']
