"""The parts of the engine that students write, and how to plug in someone's version of them.

Every part is a plain name (a class or a function) defined by one lab exercise; the reference
versions live in ``solutions/<lab>/<exercise>.py``, found through the finder the reference package registers
(the ``labkit.reference_parts`` entry point, :mod:`labkit.earlier_labs`); labkit never imports them. Where a
tree has no reference of an exercise (a student's copy of the course before that lab is published), the
default is the student's own solution from their notebook of that lab, else a placeholder naming the
exercise. A student's extracted exercise module defines the same names. The engine only ever calls parts through an ``EngineParts``:

    LLMEngine(model, parts=reference_parts())                      # the default
    LLMEngine(model, parts=parts_from_modules(my_block_manager_module, "extracted/scheduler_step.py"))
    LLMEngine(model, parts=parts_from_namespace(globals()))         # from inside a notebook

A name a student did not provide falls back to the reference, with a log line naming it.

The contract (signatures and meaning are documented in each reference module):

=================================  ==================================  ========================================
part                               exercise (module)                   used by the engine for
=================================  ==================================  ========================================
``BlockManager(num_blocks,         lab2_1 ``block_manager``            paged KV allocation, fork, copy-on-write
block_size)``, ``OutOfBlocksError``
``kv_cache_bytes``,                lab2_1 ``kv_cache_size``            sizing the block pool from a memory budget
``max_concurrent_seqs``
``schedule_step(waiting, running,  lab2_1 ``scheduler_step``           every step's continuous-batching decision
kv, max_num_seqs,
max_num_batched_tokens)``
``apply_temperature``,             lab2_1 ``sampling_filters``         the sampler
``top_k_filter``, ``top_p_filter``
``hash_block``,                    lab2_2 ``prefix_cache``             the block manager when prefix caching is on
``PrefixCachingBlockManager``
``verify_draft``,                  lab2_2 ``speculative_verify``       speculative decoding (sampled / greedy)
``verify_greedy``
``expected_tokens_per_step``,      lab2_2 ``speculative_theory``       the theory in ``benchmarks/spec_decode.py``
``expected_speedup``
=================================  ==================================  ========================================

Why ``PrefixCachingBlockManager`` subclasses the Lab 2.1 ``BlockManager``: prefix caching only
changes *how blocks are taken, released and found* (an LRU free pool whose blocks keep their
content and hash until reused, and a hash lookup at allocation); reference counting, fork and
copy-on-write stay exactly as in Lab 2.1. Subclassing the reference block manager (imported in
the Lab 2.2 setup cell) keeps the exercise to that new idea, keeps it gradeable on its own
(a student's prefix cache is never graded against their own Lab 2.1 bugs), and gives the engine
one interface: the same calls plus ``allocate(..., token_ids=)``, ``can_allocate(..., token_ids=)``,
``num_cached_tokens(seq_id)`` and ``commit(seq_id, computed_token_ids)``.
"""
from __future__ import annotations

import importlib.util
import logging
import types
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

from labkit.earlier_labs import PartUnavailable, find_exercise

logger = logging.getLogger("labkit.engine")

#: part name -> (lab, exercise) that defines it (looked up with :func:`labkit.earlier_labs.find_exercise`).
PARTS: dict[str, tuple[str, str]] = {
    "BlockManager": ("lab2_1_vllm_deployment", "block_manager"),
    "OutOfBlocksError": ("lab2_1_vllm_deployment", "block_manager"),
    "kv_cache_bytes": ("lab2_1_vllm_deployment", "kv_cache_size"),
    "max_concurrent_seqs": ("lab2_1_vllm_deployment", "kv_cache_size"),
    "schedule_step": ("lab2_1_vllm_deployment", "scheduler_step"),
    "apply_temperature": ("lab2_1_vllm_deployment", "sampling_filters"),
    "top_k_filter": ("lab2_1_vllm_deployment", "sampling_filters"),
    "top_p_filter": ("lab2_1_vllm_deployment", "sampling_filters"),
    "hash_block": ("lab2_2_inference_optimization", "prefix_cache"),
    "PrefixCachingBlockManager": ("lab2_2_inference_optimization", "prefix_cache"),
    "verify_draft": ("lab2_2_inference_optimization", "speculative_verify"),
    "verify_greedy": ("lab2_2_inference_optimization", "speculative_verify"),
    "expected_tokens_per_step": ("lab2_2_inference_optimization", "speculative_theory"),
    "expected_speedup": ("lab2_2_inference_optimization", "speculative_theory"),
}
def _placeholder(name: str, why: str):
    lab, exercise = PARTS[name]
    message = (f"engine part {name} is exercise {exercise!r} of {lab}; its reference solution is not "
               f"published in this course yet, and {why}. Write it in that notebook, or pass your version to the "
               f"engine (parts_from_namespace(globals()) or dataclasses.replace(reference_parts(), {name}=...))")
    if name[0].isupper():
        base = (PartUnavailable,) if name.endswith("Error") else ()

        def __init__(self, *args, **kwargs):
            raise PartUnavailable(message)
        return type(name, base, {"__init__": __init__, "__doc__": message, "unavailable": True})

    def unavailable(*args, **kwargs):
        raise PartUnavailable(message)
    unavailable.__name__, unavailable.__doc__, unavailable.unavailable = name, message, True
    return unavailable


@dataclass
class EngineParts:
    """The student-implementable pieces the engine is built from (see the module docstring)."""

    BlockManager: type
    OutOfBlocksError: type
    kv_cache_bytes: Callable[..., int]
    max_concurrent_seqs: Callable[..., int]
    schedule_step: Callable[..., Any]
    apply_temperature: Callable[..., Any]
    top_k_filter: Callable[..., Any]
    top_p_filter: Callable[..., Any]
    hash_block: Callable[..., int]
    PrefixCachingBlockManager: type
    verify_draft: Callable[..., list]
    verify_greedy: Callable[..., list]
    expected_tokens_per_step: Callable[..., float]
    expected_speedup: Callable[..., float]
    origin: dict[str, str] | None = None  # part name -> where it came from

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "origin"]

    def describe(self) -> str:
        return "\n".join(f"{name:26s} {self.origin.get(name, '?')}" for name in self.names())


def reference_parts() -> EngineParts:
    """The default parts: each part's reference where this tree has it, else your own solution of its exercise
    from your notebook of that lab (:func:`labkit.earlier_labs.find_exercise`), else a placeholder that raises
    :class:`PartUnavailable` (naming the exercise) when the engine uses it."""
    values, origin = {}, {}
    for name in EngineParts.names():
        lab, exercise = PARTS[name]
        try:
            module, where = find_exercise(lab, exercise)
        except PartUnavailable as exc:
            module, where = None, str(exc)
        if module is not None and hasattr(module, name):
            values[name], origin[name] = getattr(module, name), where
        else:
            why = where if module is None else f"{where} does not define {name}"
            values[name], origin[name] = _placeholder(name, why), f"unavailable ({lab} {exercise}: {why})"
    return EngineParts(**values, origin=origin)


def parts_from_namespace(namespace: Any, label: str = "namespace") -> EngineParts:
    """Parts from a dict (e.g. a notebook's ``globals()``), a module or any object with attributes."""
    get = namespace.get if isinstance(namespace, dict) else lambda n: getattr(namespace, n, None)
    reference = reference_parts()
    values, origin = {}, {}
    for name in EngineParts.names():
        value = get(name)
        if value is None:
            logger.warning("engine part %s: not provided by %s, using the reference from %s",
                           name, label, reference.origin[name])
            value, origin[name] = getattr(reference, name), reference.origin[name]
        else:
            origin[name] = label
        values[name] = value
    return EngineParts(**values, origin=origin)


def load_module(path: str | Path, name: str | None = None) -> types.ModuleType:
    """Import a Python file (e.g. a student's extracted exercise) as a fresh module."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(name or f"student_part_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parts_from_modules(*modules: types.ModuleType | str | Path) -> EngineParts:
    """Parts from modules or .py files; a name defined in several comes from the last one."""
    namespace, labels = {}, {}
    for module in modules:
        if not isinstance(module, types.ModuleType):
            module = load_module(module)
        label = getattr(module, "__file__", None) or module.__name__
        for name in EngineParts.names():
            if hasattr(module, name):
                namespace[name], labels[name] = getattr(module, name), label
    parts = parts_from_namespace(namespace, label="the given modules")
    parts.origin.update(labels)
    return parts
