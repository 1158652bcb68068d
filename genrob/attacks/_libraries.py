"""Lazy imports of the attack libraries, with the install hint where one is missing."""

from __future__ import annotations


def torchattacks():
    try:
        import torchattacks as module
    except ImportError as err:  # installed apart from the rest, see requirements-nodeps.txt
        raise ImportError(
            "torchattacks is missing. It is installed without its declared dependencies: "
            "pip install --no-deps -r requirements-nodeps.txt (make env does this)."
        ) from err
    return module


def foolbox():
    import warnings

    with warnings.catch_warnings():
        # foolbox 3.3.4 imports scipy.ndimage.filters, deprecated in SciPy.
        warnings.simplefilter("ignore", DeprecationWarning)
        import foolbox as module
    return module
