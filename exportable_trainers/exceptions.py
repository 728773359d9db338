"""Errors raised by exportable_trainers.

Every class subclasses a built-in exception, so callers that already catch
``ValueError`` or ``FileNotFoundError`` keep working.
"""

from __future__ import annotations


class ExportableTrainersError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidOptionError(ExportableTrainersError, ValueError):
    """An export option (format, policy id, on_error, ...) is not valid."""


class UnsupportedPolicyError(InvalidOptionError):
    """A part of a policy cannot be exported faithfully; the message names it.

    Raised at build time for the component (RLModule, ModelV2, action
    distribution, connector, ...) by class name, with the reason and what to do.
    """


class ExportFailedError(ExportableTrainersError, RuntimeError):
    """Writing an export failed and ``on_error="raise"`` was chosen."""


class VerificationError(ExportFailedError):
    """An exported artifact does not reproduce the live policy."""


class ExportNotFoundError(ExportableTrainersError, FileNotFoundError):
    """A path holds no (complete) export."""


class ManifestError(ExportableTrainersError, ValueError):
    """A ``manifest.json`` is missing, unreadable or of an unsupported protocol."""


class IntegrityError(ManifestError):
    """A file listed in a manifest is missing or its sha256 does not match."""


class ArtifactLoadError(ExportableTrainersError, RuntimeError):
    """A listed file has the recorded sha256 but its runtime cannot open it."""


class PolicySelectionError(ExportableTrainersError, ValueError):
    """The policy to load is ambiguous or does not exist."""


class MissingRuntimeError(ExportableTrainersError, ImportError):
    """The runtime a format needs is not installed."""


class ObservationError(ExportableTrainersError, ValueError):
    """An observation does not belong to the policy's observation space."""


class TensorFlowSetupError(ExportableTrainersError, RuntimeError):
    """TensorFlow was configured in a way RLlib's TF policies cannot work with."""
