import math

from lmlab.train.schedules import warmup_cosine


def test_warmup_is_linear_then_cosine_reaches_min_lr_at_the_last_step():
    lr = lambda step: warmup_cosine(step, max_steps=110, lr=1.0, min_lr=0.1, warmup_steps=10)  # noqa: E731
    assert [round(lr(s), 12) for s in range(3)] == [0.1, 0.2, 0.3]
    assert lr(9) == 1.0 and lr(10) == 1.0
    midpoint = 10 + (110 - 1 - 10) / 2
    assert math.isclose(warmup_cosine(int(midpoint), 110, 1.0, 0.1, 10), 0.55, abs_tol=0.02)
    assert lr(109) == 0.1 and lr(500) == 0.1
    assert all(lr(s) >= lr(s + 1) for s in range(10, 109))  # decays monotonically


def test_warmup_linear_decays_in_a_straight_line_to_min_lr():
    from lmlab.train.schedules import warmup_linear

    lr = lambda step: warmup_linear(step, max_steps=21, lr=1.0, min_lr=0.0, warmup_steps=10)  # noqa: E731
    assert [round(lr(s), 12) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]
    assert [round(lr(s), 12) for s in (10, 15, 20, 30)] == [1.0, 0.5, 0.0, 0.0]


def test_noam_is_the_transformer_papers_formula_peaking_at_lr():
    from lmlab.train.schedules import noam

    d_model, warmup = 512, 4000
    paper = lambda s: d_model**-0.5 * min(s**-0.5, s * warmup**-1.5)  # noqa: E731  (s = step + 1)
    peak = (d_model * warmup) ** -0.5
    for step in (0, 1, 99, 3998, 3999, 4000, 10_000, 100_000):
        assert math.isclose(noam(step, 10, peak, 0.0, warmup), paper(step + 1), rel_tol=1e-12)
    assert math.isclose(noam(3999, 10, 1.0, 0.0, warmup), 1.0)  # the peak is `lr`
    assert math.isclose(noam(4 * 4000 - 1, 10, 1.0, 0.0, warmup), 0.5)  # then 1 / sqrt(step)


def test_noam_without_warmup_starts_at_lr_and_decays_as_one_over_sqrt_s():
    from lmlab.train.schedules import noam

    assert [noam(step, 10, 2.0, 0.0, 0) for step in (0, 3, 99)] == [2.0, 1.0, 0.2]  # lr * s^-0.5


def test_noam_is_selectable_and_the_default_is_unchanged():
    from lmlab.train.schedules import SCHEDULES
    from lmlab.train.trainer import TrainConfig

    assert TrainConfig().schedule == "cosine" and "noam" in SCHEDULES
