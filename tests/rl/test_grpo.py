"""GRPO pieces: leave-one-out advantages, filtering, the all-equal alarm, clip-higher, token-level loss;
and a short run on the toy environment whose mean reward must rise."""

import json
import logging

import pytest
import torch

from envmine.rl import grpo
from envmine.rl.config import load_train_config
from envmine.rl.train import train_config
from envmine.rl.types import Segment, Trajectory


def traj(reward, stop="submitted", n_model=3):
    t = Trajectory("x", reward=reward, stop_reason=stop)
    t.segments = [Segment("prompt", "", [1, 2, 3]), Segment("assistant", "", list(range(10, 10 + n_model)), True)]
    return t


def test_leave_one_out_values():
    assert grpo.leave_one_out([1.0, 0.0, 0.0, 0.0]) == pytest.approx([1.0, -1 / 3, -1 / 3, -1 / 3])
    assert grpo.leave_one_out([0.5, 0.5]) == [0.0, 0.0]
    assert grpo.leave_one_out([1.0]) == [0.0]
    assert sum(grpo.leave_one_out([0.2, 0.9, 0.4])) == pytest.approx(0.0)


def test_select_drops_truncated_and_errors_and_raises_alarm(caplog):
    groups = [[traj(1.0), traj(0.0), traj(1.0, "max_turns"), traj(0.0, "error")],
              [traj(0.0), traj(0.0), traj(0.0, "timeout")]]
    sel = grpo.select(groups)
    assert len(sel.trajectories) == 4 and sel.dropped_truncated == 2 and sel.dropped_errors == 1
    assert sel.advantages == pytest.approx([1.0, -1.0, 0.0, 0.0]) and sel.flat_groups == 1
    assert not sel.alarm
    with caplog.at_level(logging.WARNING):
        flat = grpo.select([[traj(1.0), traj(1.0)], [traj(1.0)]])
    assert flat.alarm and "all 3 rewards in this batch are equal" in caplog.text


def test_collate_aligns_mask_with_targets():
    t = traj(1.0)
    batch = grpo.collate([t, traj(0.0, n_model=1)], [1.0, -1.0], pad_id=0)
    assert batch.input_ids[0].tolist() == [1, 2, 3, 10, 11, 12]
    assert batch.loss_mask[0].tolist() == [0, 0, 1, 1, 1]  # targets 2,3,10,11,12
    assert batch.loss_mask[1].tolist() == [0, 0, 1, 0, 0]  # padding never counts
    assert batch.attention_mask[1].tolist() == [1, 1, 1, 1, 0, 0]


def test_clip_higher_is_asymmetric_and_loss_is_token_level():
    cfg = grpo.LossConfig(eps_low=0.2, eps_high=0.28)
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    batch = grpo.Batch(torch.zeros(1, 4, dtype=torch.long), torch.ones(1, 4), mask, torch.tensor([1.0]))
    old = torch.zeros(1, 3)
    up = torch.log(torch.tensor([[1.5, 1.5, 9.0]]))  # ratio 1.5: clipped at 1.28 for A>0
    loss, stats = grpo.policy_loss(up, old, batch, total_tokens=2.0, cfg=cfg)
    assert float(loss) == pytest.approx(-1.28) and stats["clip_frac"] == 1.0
    batch.advantages = torch.tensor([-1.0])
    down = torch.log(torch.tensor([[0.5, 0.5, 0.5]]))  # ratio 0.5: clipped at 0.8 for A<0
    loss, _ = grpo.policy_loss(down, old, batch, total_tokens=4.0, cfg=cfg)
    assert float(loss) == pytest.approx(2 * 0.8 / 4.0)


def test_short_grpo_run_on_toy_env_raises_mean_reward(tmp_path):
    cfg = load_train_config("configs/rl/toy.toml")
    cfg.steps = 20
    cfg.checkpoint.every = 10
    result = train_config(cfg, home=tmp_path)
    rewards = result.mean_rewards
    first, last = sum(rewards[:5]) / 5, sum(rewards[-5:]) / 5
    assert len(rewards) == 20 and last > first + 0.03, rewards
    ckpts = result.run_dir / "checkpoints"
    assert json.loads((ckpts / "latest.json").read_text())["step"] == 20
    assert sorted(p.name for p in ckpts.glob("*.pt")) == ["step-000010.pt", "step-000020.pt"]
    lines = (result.run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 20 and json.loads(lines[-1])["kept"] == 16
    # resume: two more steps continue from step 20 and the toy stream's position
    cfg.steps = 22
    again = train_config(cfg, home=tmp_path)
    assert again.steps_done == 22 and len(again.mean_rewards) == 2


@pytest.mark.parametrize("preset", ["configs/rl/toy.toml", "configs/rl/grpo_docker.toml"])
def test_presets_are_valid_configs(preset):
    cfg = load_train_config(preset)
    assert cfg.optim.eps_high > cfg.optim.eps_low and cfg.optim.kl_coef == 0.0


def test_unknown_config_key_is_an_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[optim]\nlearning_rate = 1e-3\n")
    with pytest.raises(ValueError, match="learning_rate"):
        load_train_config(path)
