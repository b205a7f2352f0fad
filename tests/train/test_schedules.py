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
