"""make_exporting: compose ExportingMixin with any RLlib Algorithm class.

Classes made here pickle as "make_exporting(base, **defaults)" (through a
copyreg reducer on their metaclass), so Ray actors, Tune's registry and RLlib's
``class_and_ctor_args.pkl`` rebuild the same class, with the same defaults, in
any process where exportable_trainers is installed.
"""

from __future__ import annotations

import abc
import copyreg
import threading
from typing import Any

from ..exceptions import InvalidOptionError
from .mixin import ExportingMixin
from .options import ExportOptions

_LOCK = threading.RLock()
_CLASSES: dict[tuple, type] = {}  # (base, name, options) -> class
_BY_QUALNAME: dict[str, type] = {}  # module-level names, for pickling by reference
_METACLASSES: dict[type, type] = {}


def _rebuild(base: type, name: str, defaults: dict[str, Any]) -> type:
    """Unpickling entry point: the class make_exporting made for these arguments."""
    return _make(base, name, ExportOptions(**defaults), register=False)


def _reduce_class(cls: type) -> tuple:
    return _rebuild, (cls._export_base, cls.__name__, cls._export_defaults.as_dict())


class _ExportingMeta(abc.ABCMeta):
    """Metaclass of the classes make_exporting makes (RLlib algorithms use ABCMeta).

    Module-level so that Ray can pickle it by reference when it ships a
    subclass (Tune's actor wrapper) by value.
    """


copyreg.pickle(_ExportingMeta, _reduce_class)


def _metaclass_for(meta: type) -> type:
    if meta is abc.ABCMeta:
        return _ExportingMeta
    with _LOCK:
        # A custom metaclass: combine it (works within one process; other
        # processes rebuild the class through the copyreg reducer).
        if meta not in _METACLASSES:
            made = type(
                f"_Exporting{meta.__name__}", (_ExportingMeta, meta), {"__module__": __name__}
            )
            copyreg.pickle(made, _reduce_class)
            _METACLASSES[meta] = made
        return _METACLASSES[meta]


def _resolve(algo: Any) -> type:
    from ray.rllib.algorithms.algorithm import Algorithm

    if isinstance(algo, str):
        from ray.rllib.algorithms.registry import ALGORITHMS
        from ray.tune.registry import TRAINABLE_CLASS, _global_registry

        if algo in ALGORITHMS:
            cls = ALGORITHMS[algo]()[0]  # RLlib's lazy importer returns (class, config)
        elif _global_registry.contains(TRAINABLE_CLASS, algo):
            cls = _global_registry.get(TRAINABLE_CLASS, algo)
        else:
            raise InvalidOptionError(
                f"unknown algorithm {algo!r}; give an Algorithm subclass or a name registered "
                f"with RLlib or Tune, e.g. {', '.join(sorted(ALGORITHMS)[:8])}, ..."
            )
    else:
        cls = algo
    if not (isinstance(cls, type) and issubclass(cls, Algorithm)):
        raise InvalidOptionError(
            f"make_exporting needs an RLlib Algorithm subclass or its registered name, got {algo!r}"
        )
    return cls


def _unique_qualname(name: str) -> str:
    if name not in _BY_QUALNAME:
        return name
    n = 2
    while f"{name}_{n}" in _BY_QUALNAME:
        n += 1
    return f"{name}_{n}"


def _make(base: type, name: str, options: ExportOptions, register: bool) -> type:
    key = (base, name, options)
    with _LOCK:
        cls = _CLASSES.get(key)
        if cls is None:
            qualname = _unique_qualname(name)
            namespace = {
                "__module__": __name__,
                "__qualname__": qualname,
                "__doc__": f"{base.__name__} that exports its policies at every checkpoint.",
                "_export_base": base,
                "_export_defaults": options,
            }
            # A user class that already has the mixin only needs new defaults.
            bases = (base,) if issubclass(base, ExportingMixin) else (ExportingMixin, base)
            cls = _metaclass_for(type(base))(name, bases, namespace)
            _CLASSES[key] = cls
            _BY_QUALNAME[qualname] = cls
    if register:
        from ray.tune.registry import register_trainable

        register_trainable(name, cls)
    return cls


def make_exporting(algo: type | str, *, name: str | None = None, **defaults: Any) -> type:
    """Return an Algorithm class that exports its policies at every checkpoint.

    Args:
        algo: An RLlib Algorithm subclass (e.g. ``PPO``), or its name as
            registered with RLlib or Tune (e.g. ``"PPO"``).
        name: Class name; default ``"Exporting" + algo's name``. The class is
            registered with Tune under this name.
        **defaults: Default export options: ``formats``, ``policies``, ``verify``,
            ``on_error``, ``atol``, ``rtol`` (see ExportOptions). A run overrides
            them through ``config["exporting"]``.

    Returns:
        A subclass of ``ExportingMixin`` and ``algo``. The same arguments give
        the same class.

    Raises:
        InvalidOptionError: Unknown algorithm, option or format name.
    """
    options = ExportOptions.from_kwargs(defaults, "make_exporting()")
    base = _resolve(algo)
    # A class made here is re-made from its own base, not stacked on itself.
    base = base.__dict__.get("_export_base", base)
    return _make(base, name or f"Exporting{base.__name__}", options, register=True)


def __getattr__(qualname: str) -> type:
    # Lets pickle / cloudpickle find made classes by module and qualname.
    try:
        return _BY_QUALNAME[qualname]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {qualname!r}") from None
