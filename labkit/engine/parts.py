"""The parts of the engine that students write, and how to plug in someone's version of them.

Every part is a plain name (a class or a function) defined by one lab exercise; the reference
versions live in ``solutions/<lab>/<exercise>.py`` and register themselves (``register_reference``,
through the ``labkit.reference_parts`` entry point); labkit never imports them. A student's extracted
exercise module defines the same names. The engine only ever calls parts through an ``EngineParts``:

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

logger = logging.getLogger("labkit.engine")

#: part name -> (lab, exercise) that defines it. labkit never imports the answers itself: the course's
#: reference solutions register themselves (entry point group ``labkit.reference_parts``, see
#: ``solutions/engine_parts.py``), and only the labs present in a tree (e.g. the published ones in a
#: student distribution) can register. A part nobody registered is a placeholder that says which exercise
#: to write.
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
#: The reference module of each exercise, by name only (``solutions.<lab>.<exercise>``).
REFERENCE_MODULES: dict[str, tuple[str, ...]] = {}
for _name, (_lab, _exercise) in PARTS.items():
    REFERENCE_MODULES.setdefault(f"solutions.{_lab}.{_exercise}", ())
    REFERENCE_MODULES[f"solutions.{_lab}.{_exercise}"] += (_name,)
ENTRY_POINT_GROUP = "labkit.reference_parts"
_registered: dict[str, tuple[Any, str]] = {}
_discovered = False


class PartUnavailable(RuntimeError):
    """An engine part whose reference is not in this tree and that the caller did not provide."""


def register_reference(name: str, value: Any, origin: str) -> None:
    """Called by a reference-solution package to make ``value`` the default engine part ``name``."""
    if name not in PARTS:
        raise KeyError(f"{name!r} is not an engine part (known: {', '.join(PARTS)})")
    _registered[name] = (value, origin)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    from importlib.metadata import entry_points
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()()
        except Exception as exc:  # noqa: BLE001 - a broken provider must not break the engine
            logger.warning("reference parts provider %s failed: %s", ep.value, exc)


def _placeholder(name: str):
    lab, exercise = PARTS[name]
    message = (f"engine part {name} is exercise {exercise!r} of {lab}, and its reference solution is not "
               f"published in this course yet: write it in that notebook and pass your version to the engine "
               f"(parts_from_namespace(globals()) or dataclasses.replace(reference_parts(), {name}=...))")
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
    """The registered reference parts; a part with no reference in this tree is a placeholder that raises
    :class:`PartUnavailable` (naming the exercise) when the engine uses it."""
    _discover()
    values, origin = {}, {}
    for name in EngineParts.names():
        if name in _registered:
            values[name], origin[name] = _registered[name]
        else:
            values[name] = _placeholder(name)
            lab, exercise = PARTS[name]
            origin[name] = f"unavailable ({lab} {exercise} not published)"
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
