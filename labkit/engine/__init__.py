"""labkit.engine: a small paged, continuously batched inference engine built from the labs' parts.

One file per concern, in the spirit of nano-vllm:

=================  ================================================================
``sequence``       ``SamplingParams``, request/sequence state, ``RequestOutput``
``parts``          the student-implementable parts and how to plug them in
``block_manager``  the engine's side of the paged block manager (a part)
``scheduler``      waiting/running queues around the ``schedule_step`` part
``model_runner``   a Llama-family forward pass over a paged KV cache
``sampler``        greedy / temperature / top-k / top-p / seeds / logprobs
``spec_decode``    speculative decoding: draft, verify (a part), roll back
``engine``         ``LLMEngine``: add_request / step / abort / generate / stats
``async_engine``   ``AsyncLLMEngine``: per-token streaming with cancellation
=================  ================================================================
"""
from .async_engine import AsyncLLMEngine, StreamDelta
from .engine import LLMEngine
from .parts import EngineParts, parts_from_modules, parts_from_namespace, reference_parts
from .sequence import CompletionOutput, RequestOutput, SamplingParams

__all__ = [
    "AsyncLLMEngine", "CompletionOutput", "EngineParts", "LLMEngine", "RequestOutput", "SamplingParams",
    "StreamDelta", "parts_from_modules", "parts_from_namespace", "reference_parts",
]
