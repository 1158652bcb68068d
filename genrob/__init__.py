"""genrob: are generative classifiers on MNIST more robust to adversarial attacks
than their discriminative counterparts?

The notebooks import this package; the logic lives here, the argument there.
"""

__version__ = "0.1.0"

from genrob.environment import code_version, seed_everything, torch_device

__all__ = ["__version__", "code_version", "seed_everything", "torch_device"]
