"""genrob.paired: the paired tests, Tango's interval and Holm's correction every comparison uses."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import binomtest

from genrob.paired import Paired, holm, paired


def test_tangos_interval_gives_the_published_values():
    """Fagerland, Lydersen and Laake (2017), chapter 8: the Tango score interval of the two paired 2x2
    tables they work through (Bentur et al. 2009; Cavo et al. 2012)."""
    bentur = Paired(21, model_only=1, than_only=7, both=1).difference()
    cavo = Paired(161, model_only=6, than_only=16, both=59).difference()
    assert bentur == pytest.approx((-0.2857, -0.5173, -0.0260), abs=1e-4)
    assert cavo == pytest.approx((-0.0621, -0.1240, -0.0054), abs=1e-4)


def test_the_interval_keeps_its_width_where_no_image_is_discordant():
    """Newcombe's hybrid interval collapsed to (0, 0) for 10 images with no discordant one (a survival rate
    of one half): "equal" then stood on 10 images. Tango's keeps the width 10 images allow."""
    estimate, low, high = Paired(10, 0, 0, 5).difference()
    assert estimate == 0 and low == pytest.approx(-high) and high > 0.25
    from genrob.claims import decide

    assert decide([Paired(10, 0, 0, 5)], margin=0.1)[0][0] is None
    # the same rates on 1 000 images do decide it
    assert decide([Paired(1000, 0, 0, 500)], margin=0.1)[0][0] == "equal"


def test_the_score_tests_invert_to_the_interval():
    pair = Paired(200, 40, 12, 60)
    estimate, low, high = pair.difference()
    assert pair.p_above(low) == pytest.approx(0.025, abs=1e-6) and pair.p_below(high) == pytest.approx(0.025, abs=1e-6)
    assert pair.p_above(estimate) == pytest.approx(0.5)


def test_pairs_are_cut_to_the_images_both_saw_and_mcnemar_is_exact():
    first = pd.Series([True] * 20 + [False] * 5 + [True] * 30 + [False] * 45, index=range(100, 200))
    second = pd.Series([False] * 20 + [True] * 5 + [True] * 30 + [False] * 45, index=range(100, 200))
    pair = paired(first, second)
    assert (pair.n, pair.model_only, pair.than_only, pair.both) == (100, 20, 5, 30)
    assert pair.p_value == pytest.approx(binomtest(20, 25, 0.5).pvalue)
    larger = pd.concat([second, pd.Series(True, index=range(200, 300))])
    assert paired(first, larger) == pair
    assert paired(first, pd.Series(True, index=range(300, 310))) is None


def test_holm_multiplies_the_smallest_p_by_the_number_of_tests_and_steps_down():
    assert holm([0.01, 0.04, 0.5]).tolist() == pytest.approx([0.03, 0.08, 0.5])
    assert holm([]).tolist() == []
