"""Bad notebook parameters stop with a message that says what is wrong."""

from __future__ import annotations

import math

import pytest

from genrob.params import ParameterError, refuse_unknown_parameters, sweep_config
from genrob.profiles import PAPER_L2_EPS, PAPER_LINF_EPS


def test_defaults_are_the_papers_grids_and_the_profiles_n():
    config = sweep_config(profile="smoke", family="naive_bayes")
    assert config.linf_eps == PAPER_LINF_EPS and config.l2_eps == PAPER_L2_EPS
    assert config.models == ("gaussian_nb", "logistic_regression") and len(config.attacks) == 10
    assert config.n == config.profile.n_eval
    assert config.eps_for("pgd_l2") == PAPER_L2_EPS and config.eps_for("fgsm_linf") == PAPER_LINF_EPS


def test_a_costly_family_gets_its_own_default_n_and_an_explicit_n_wins():
    costly = sweep_config(profile="extended", family="conv_vae")
    assert costly.n == 200 < sweep_config(profile="extended", family="naive_bayes").n == 1000
    assert sweep_config(profile="default", family="vae").n == 50 < sweep_config(profile="default").n == 200
    assert sweep_config(profile="extended", family="vae", n=50).n == 50
    assert sweep_config(profile="full", family="vae").n == 10_000


def test_attacks_beyond_the_papers_ten_are_chosen_by_name_not_by_default():
    assert "eot_pgd_linf" not in sweep_config(profile="smoke").attacks
    assert sweep_config(profile="smoke", attacks=["eot_pgd_linf"]).attacks == ("eot_pgd_linf",)


def test_a_custom_grid_is_sorted():
    assert sweep_config(profile="smoke", linf_eps=[0.15, 0.05]).linf_eps == (0.05, 0.15)


@pytest.mark.parametrize(("params", "message"), [
    ({"linf_eps": [0.1, -0.2]}, "must be positive"),
    ({"linf_eps": [math.nan]}, "not a number"),
    ({"l2_eps": ["1"]}, "not a number"),
    ({"linf_eps": [1.0, 2.0, 3.0]}, "looks like an l2 grid"),
    ({"l2_eps": [50.0]}, "largest l2 distance"),
    ({"linf_eps": []}, "empty"),
    ({"linf_eps": 0.3}, "list of numbers"),
    ({"linf_eps": [0.1, 0.1]}, "repeats"),
    ({"attacks": ["pgd_linf", "deepfool"]}, "unknown attack"),
    ({"models": ["gaussian_nb", "svm"]}, "unknown model"),
    ({"profile": "huge"}, "unknown profile"),
    ({"n": 0}, "n must be"),
    ({"n": 20_000}, "n must be"),
    ({"n": 10.5}, "n must be"),
    ({"seed": -1}, "seed"),
    ({"family": "svm"}, "unknown family"),
    ({"family": "naive_bayes", "models": ["cnn_vae"]}, r"model \['cnn_vae'\] is not of the naive_bayes family"),
])
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(ParameterError, match=message):
        sweep_config(**{"profile": "smoke", **params})


def test_a_value_under_a_name_the_notebook_does_not_take_is_refused_and_the_close_name_suggested():
    import math as a_module

    namespace = {"profile": "smoke", "seed": 0, "linf_eps": None, "In": [], "_": None, "pd": a_module,
                 "helper": len}
    refuse_unknown_parameters(namespace, {"profile", "seed", "linf_eps"})  # modules and functions are no parameters
    with pytest.raises(ParameterError, match=r"unknown parameter 'epsilon': this notebook takes linf_eps, "):
        refuse_unknown_parameters({**namespace, "epsilon": 0.3}, {"profile", "seed", "linf_eps"})
    with pytest.raises(ParameterError, match=r"unknown parameters 'linf_esp' \(did you mean 'linf_eps'\?\), 'n'"):
        refuse_unknown_parameters({**namespace, "linf_esp": [0.1], "n": 5}, {"profile", "seed", "linf_eps"})
    # in a kernel, only what earlier cells of literal assignments assigned: imports and results are no parameters
    kernel = {**namespace, "GRAPHS": {"a": 1}, "epsilon": 0.3, "chosen": ["a", "b"],
              "In": ["", "profile = 'smoke'\nseed = 0\nlinf_eps = None", "# Parameters\nepsilon = 0.3\n",
                     "from genrob.models.naive_bayes import GRAPHS\nconfig = setup(...)",
                     "chosen = ['a', 'b']\nfigure = plot(chosen)"]}
    with pytest.raises(ParameterError, match=r"unknown parameter 'epsilon': "):
        refuse_unknown_parameters(kernel, {"profile", "seed", "linf_eps"})
    refuse_unknown_parameters({**kernel, "In": kernel["In"][:2] + kernel["In"][3:]}, {"profile", "seed", "linf_eps"})
