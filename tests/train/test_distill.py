"""The distillation loss against torch's own KL divergence and cross-entropy, a hand-computed case,
and the Trainer following a configurable training loss."""

import math

import pytest
import torch
import torch.nn.functional as F

from lmlab.models.gpt import GPT, GPTConfig
from lmlab.train.checkpoint import RunFolder
from lmlab.train.distill import DistillConfig, distillation_loss, teacher_loss
from lmlab.train.trainer import TrainConfig, Trainer


def reference(student, teacher, targets, T, alpha):
    """torch.nn.functional.kl_div(log q_T, log p_T) per position ('batchmean' over B * T rows)."""
    V = student.size(-1)
    log_q = F.log_softmax(student.reshape(-1, V) / T, dim=-1)
    log_p = F.log_softmax(teacher.reshape(-1, V) / T, dim=-1)
    kl = F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)
    return alpha * T * T * kl + (1 - alpha) * F.cross_entropy(student.reshape(-1, V), targets.reshape(-1))


@pytest.mark.parametrize("T, alpha", [(1.0, 0.5), (2.0, 0.9), (4.0, 1.0), (3.0, 0.0)])
def test_matches_torch_kl_div_plus_cross_entropy(T, alpha):
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 5, 7), torch.randn(2, 5, 7) * 3
    targets = torch.randint(0, 7, (2, 5))
    assert distillation_loss(student, teacher, targets, T, alpha).item() == pytest.approx(
        reference(student, teacher, targets, T, alpha).item(), rel=1e-6)


def test_by_hand_on_two_tokens():
    student = torch.tensor([[[0.0, 0.0]]])  # q = (1/2, 1/2) at any temperature
    teacher = torch.tensor([[[2 * math.log(3), 0.0]]])  # at T = 2: p = (3/4, 1/4)
    targets = torch.tensor([[0]])
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    expected = 0.5 * 4 * kl + 0.5 * math.log(2)
    assert distillation_loss(student, teacher, targets, 2.0, 0.5).item() == pytest.approx(expected, rel=1e-6)


def test_positions_with_target_minus_one_are_left_out_of_both_terms():
    torch.manual_seed(1)
    student, teacher = torch.randn(1, 4, 5), torch.randn(1, 4, 5)
    targets = torch.tensor([[1, -1, 3, -1]])
    kept = [0, 2]
    assert distillation_loss(student, teacher, targets, 2.0, 0.7).item() == pytest.approx(
        reference(student[:, kept], teacher[:, kept], targets[:, kept], 2.0, 0.7).item(), rel=1e-6)


def test_a_student_equal_to_its_teacher_has_no_soft_loss():
    logits = torch.randn(3, 4, 6)
    targets = torch.randint(0, 6, (3, 4))
    assert distillation_loss(logits, logits, targets, 2.0, 1.0).item() == pytest.approx(0.0, abs=1e-6)


def test_the_trainer_follows_the_configured_loss_and_the_teacher_stays_frozen(tmp_path):
    config = GPTConfig(vocab_size=9, block_size=8, n_layer=1, n_head=2, n_embd=8)
    torch.manual_seed(0)
    teacher, student = GPT(config), GPT(config)
    before = [p.clone() for p in teacher.parameters()]
    batch = (torch.randint(0, 9, (4, 8)), torch.randint(0, 9, (4, 8)))
    loss = teacher_loss(teacher, DistillConfig(temperature=2.0, alpha=1.0))
    expected = distillation_loss(student(batch[0])[0], teacher(batch[0])[0], batch[1], 2.0, 1.0).item()
    train = TrainConfig(max_steps=1, warmup_steps=0, eval_every=0, checkpoint_every=0, log_every=1,
                        dtype="float32")  # compared with a float32 reference
    trainer = Trainer(student, train, RunFolder(tmp_path), train_batches=lambda step: [batch], training_loss=loss)
    assert trainer.train_step()[0] == pytest.approx(expected, rel=1e-5)  # the soft loss, not the model's own
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))
    assert not any(p.requires_grad for p in teacher.parameters())
