"""Models by name, all keeping one contract (see :mod:`genrob.models.base`)."""

from genrob.models.base import ContractError, accuracy, check_contract, logits_of, predict
from genrob.models.registry import (
    ModelSpec,
    checkpoint_path,
    families,
    get_spec,
    load_model,
    model_names,
    register,
    training_report,
)

# Importing a family module registers its models.
from genrob.models import naive_bayes  # noqa: E402,F401

__all__ = [
    "ContractError", "ModelSpec", "accuracy", "check_contract", "checkpoint_path", "families",
    "get_spec", "load_model", "logits_of", "model_names", "predict", "register", "training_report",
]
