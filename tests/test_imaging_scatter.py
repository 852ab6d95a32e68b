"""The 2-D scatter plot drawn with numpy and PIL."""

from __future__ import annotations

import numpy as np
import pytest

from ganforge.core.imaging import _nice_step, render_scatter


@pytest.mark.parametrize(
    "span, step", [(2.2, 0.5), (8.8, 2.0), (0.15, 0.05), (1.0, 0.2), (30.0, 10.0)]
)
def test_tick_spacing_is_a_round_number_giving_at_most_five_ticks(span, step):
    assert _nice_step(span) == pytest.approx(step)


def test_points_are_blue_modes_are_red_crosses_and_bad_points_are_skipped():
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(0, 0.01, (500, 2)) + [1.0, 1.0], [[np.nan, 0], [np.inf, 1]]])
    ref = np.array([[1.0, 1.0], [-1.0, -1.0]])
    img = np.asarray(render_scatter(pts, ref, title="step 5"))
    assert img.shape[2] == 3 and img.shape[0] > 400 and img.shape[1] > 400
    red = (img[..., 0] > 180) & (img[..., 1] < 90) & (img[..., 2] < 90)
    blue = (img[..., 2] > 150) & (img[..., 0] < 120)
    ys, xs = np.nonzero(red)
    assert red.sum() > 20  # two crosses (and the legend's)
    assert blue.sum() > 20
    # the cluster sits at the top right of the axes (equal axes, y upwards) ...
    by, bx = np.nonzero(blue[:380])
    assert bx.mean() > img.shape[1] * 0.6 and by.mean() < img.shape[0] * 0.4
    # ... and the second mode's cross at the bottom left
    assert ((xs < img.shape[1] * 0.3) & (ys > img.shape[0] * 0.6)).any()


def test_a_single_point_or_none_still_draws():
    assert render_scatter(np.zeros((1, 2))).size[0] > 100
    assert render_scatter(np.full((3, 2), np.nan), None).size[0] > 100
