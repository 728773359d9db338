"""make_exporting: compose ExportingMixin with any RLlib Algorithm class.

Classes made here pickle as "make_exporting(base, **defaults)" (through a
copyreg reducer on their metaclass), so Ray actors, Tune's registry and RLlib's
``class_and_ctor_args.pkl`` rebuild the same class, with the same defaults, in
any process where exportable_trainers is installed.
"""

from __future__ import annotations

import abc
import copyreg
import logging
import threading
from typing import Any

from ..exceptions import InvalidOptionError
from .mixin import ExportingMixin
from .options import ExportOptions

logger = logging.getLogger(__name__)

_LOCK = threading.RLock()
_CLASSES: dict[tuple, type] = {}  # (base, name, options) -> class
_BY_QUALNAME: dict[str, type] = {}  # module-level names, for pickling by reference
_METACLASSES: dict[type, type] = {}
_TUNE_NAMES: dict[str, tuple] = {}  # name registered with Tune -> the key of its class


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


def _make(
    base: type, name: str, options: ExportOptions, register: bool, explicit: bool = False
) -> type:
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
        _register_with_tune(cls, name, key, explicit)
    return cls


def _register_with_tune(cls: type, name: str, key: tuple, explicit: bool) -> None:
    from ray.tune.registry import register_trainable

    with _LOCK:
        earlier = _TUNE_NAMES.get(name)
        if earlier is not None and earlier != key and explicit:
            # A name the user chose is their handle on one class: never re-point it.
            raise InvalidOptionError(
                f"make_exporting: name {name!r} is already registered with Tune for "
                f"{earlier[0].__name__} with defaults {earlier[2].as_dict()}; this call asks "
                f"for {key[0].__name__} with {key[2].as_dict()}. Give each a name of its own"
            )
        _TUNE_NAMES[name] = key
    if earlier is not None and earlier != key:
        # Tune keeps one trainable per name: say that the name now means this class.
        logger.warning(
            "make_exporting: Tune name %r now means %s with defaults %s (it meant defaults %s); "
            "pass name=... to keep both under their own names",
            name,
            key[0].__name__,
            key[2].as_dict(),
            earlier[2].as_dict(),
        )
    register_trainable(name, cls)


def make_exporting(algo: type | str, *, name: str | None = None, **defaults: Any) -> type:
    """Return an Algorithm class that exports its policies at every checkpoint.

    Args:
        algo: An RLlib Algorithm subclass (e.g. ``PPO``), or its name as
            registered with RLlib or Tune (e.g. ``"PPO"``).
        name: Class name; default ``"Exporting" + algo's name``. The class is
            registered with Tune under this name. A default name made again with
            other defaults then means the new class (a warning says so); a name
            given here cannot be re-pointed to other defaults.
        **defaults: Default export options: ``formats``, ``policies``, ``verify``,
            ``on_error``, ``atol``, ``rtol`` (see ExportOptions). A run overrides
            them through ``config["exporting"]``.

    Returns:
        A subclass of ``ExportingMixin`` and ``algo``. The same arguments give
        the same class.

    Raises:
        InvalidOptionError: Unknown algorithm, option or format name, or a
            ``name`` already registered for a class with other defaults.
    """
    options = ExportOptions.from_kwargs(defaults, "make_exporting()")
    base = _resolve(algo)
    # A class made here is re-made from its own base, not stacked on itself.
    base = base.__dict__.get("_export_base", base)
    explicit = name is not None
    name = name or f"Exporting{base.__name__}"
    return _make(base, name, options, register=True, explicit=explicit)


def __getattr__(qualname: str) -> type:
    # Lets pickle / cloudpickle find made classes by module and qualname.
    try:
        return _BY_QUALNAME[qualname]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {qualname!r}") from None
