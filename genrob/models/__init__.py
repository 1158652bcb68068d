"""Models by name, all keeping one contract (see :mod:`genrob.contract`)."""

from genrob.contract import ContractError, accuracy, check_contract, logits_of, predict
from genrob.models.registry import (
    ModelSpec,
    chapter_models,
    checkpoint_path,
    families,
    get_spec,
    load_model,
    model_names,
    register,
    training_report,
)

# Importing a family module registers its models; the order is the book's.
from genrob.models import naive_bayes, mixture, mrf, vae, cnn, conv_vae, adversarial  # noqa: E402,F401,I001

__all__ = [
    "ContractError", "ModelSpec", "accuracy", "chapter_models", "check_contract", "checkpoint_path", "families",
    "get_spec", "load_model", "logits_of", "model_names", "predict", "register", "training_report",
]
