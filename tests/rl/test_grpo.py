"""GRPO pieces: leave-one-out advantages, truncated rollouts, flat groups, the all-equal alarm,
clip-higher, truncated importance sampling, chunked log-probs, multi-step updates; and a short
run on the toy environment whose mean reward must rise."""

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
    sel = grpo.select(groups, on_truncated="drop")
    assert sel.dropped_truncated == 2 and sel.dropped_errors == 1
    # the second group is flat once its truncated rollout is gone: skipped, no forward pass
    assert len(sel.trajectories) == 2 and sel.advantages == pytest.approx([1.0, -1.0]) and sel.flat_groups == 1
    assert not sel.alarm
    with caplog.at_level(logging.WARNING):
        flat = grpo.select([[traj(1.0), traj(1.0)], [traj(1.0)]])
    assert flat.alarm and "all 3 rewards in this batch are equal" in caplog.text
    assert flat.trajectories == [] and flat.flat_groups == 2


def test_truncated_rollouts_are_penalised_in_the_group():
    group = [traj(1.0), traj(0.0), traj(1.0, "max_turns"), traj(0.0, "error")]
    sel = grpo.select([group], on_truncated="penalize", truncation_penalty=1.0)
    # rewards 1, 0, 1 - 1 = 0: running out the clock scores like failing, and is trained on
    assert sel.rewards == [1.0, 0.0, 0.0] and sel.penalized == 1 and sel.dropped_errors == 1
    assert sel.advantages == pytest.approx([1.0, -0.5, -0.5])
    assert sel.trajectories[2].stop_reason == "max_turns"
    # a group that only differs by the cut is no longer flat
    assert grpo.select([[traj(1.0), traj(1.0, "timeout")]]).advantages == pytest.approx([1.0, -1.0])


def test_truncated_rollouts_masked_count_in_the_baseline_only():
    group = [traj(1.0), traj(0.0), traj(1.0, "max_turns")]
    sel = grpo.select([group], on_truncated="mask")
    assert [t.stop_reason for t in sel.trajectories] == ["submitted", "submitted"]
    assert sel.advantages == pytest.approx([0.5, -1.0]) and sel.dropped_truncated == 1


def test_rows_split_at_reset_segments_and_carry_rollout_logprobs():
    t = Trajectory("x", reward=1.0, stop_reason="submitted")
    t.segments = [Segment("prompt", "", [1, 2]), Segment("assistant", "", [3, 4], True, [-0.5, -0.25]),
                  Segment("reset", "", []), Segment("prompt", "", [5]), Segment("assistant", "", [6], True)]
    first, second = grpo.rows(t, 0.7)
    assert (first.ids, first.mask, first.rollout_logprobs) == ([1, 2, 3, 4], [0, 0, 1, 1], [None, None, -0.5, -0.25])
    assert (second.ids, second.mask, second.rollout_logprobs) == ([5, 6], [0, 1], [None, None])
    batch = grpo.collate([first, second], None, pad_id=0)
    assert batch.rollout_known.tolist() == [[0, 1, 1], [0, 0, 0]]
    assert batch.rollout_logp[0].tolist() == [0.0, -0.5, -0.25] and batch.advantages.tolist() == pytest.approx([0.7, 0.7])


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


def test_clip_frac_counts_only_tokens_whose_gradient_is_clipped():
    cfg = grpo.LossConfig(eps_low=0.2, eps_high=0.28)
    mask = torch.ones(1, 4)
    ratios = torch.log(torch.tensor([[1.5, 0.5, 1.1, 1.3]]))
    old = torch.zeros(1, 4)
    batch = grpo.Batch(torch.zeros(1, 5, dtype=torch.long), torch.ones(1, 5), mask, torch.tensor([-1.0]))
    _, stats = grpo.policy_loss(ratios, old, batch, 4.0, cfg)
    # A < 0: only the ratio below 0.8 is clipped (1.5 and 1.3 are not: min keeps ratio * A)
    assert stats["clip_frac"] == 0.25 and stats["clip_low_frac"] == 0.25 and stats["clip_high_frac"] == 0.0
    batch.advantages = torch.tensor([1.0])
    _, stats = grpo.policy_loss(ratios, old, batch, 4.0, cfg)
    assert stats["clip_frac"] == 0.5 and stats["clip_high_frac"] == 0.5  # 1.5 and 1.3 above 1.28
    batch.advantages = torch.tensor([0.0])
    assert grpo.policy_loss(ratios, old, batch, 4.0, cfg)[1]["clip_frac"] == 0.0


def test_truncated_importance_sampling_weights_from_rollout_logprobs():
    old = torch.tensor([[-1.0, -1.0, -1.0, -2.0]])
    rollout = torch.tensor([[-1.5, -0.5, -4.0, 0.0]])  # last token: no rollout log-prob
    known = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    batch = grpo.Batch(torch.zeros(1, 5, dtype=torch.long), torch.ones(1, 5), torch.ones(1, 4), torch.tensor([1.0]),
                       rollout, known)
    e = torch.exp
    w = grpo.tis_weights(old, batch, "token_truncate", cap=2.0)
    assert w.tolist()[0] == pytest.approx([float(e(torch.tensor(0.5))), float(e(torch.tensor(-0.5))), 2.0, 1.0])
    w = grpo.tis_weights(old, batch, "token_mask", cap=2.0)
    assert w.tolist()[0] == pytest.approx([float(e(torch.tensor(0.5))), float(e(torch.tensor(-0.5))), 0.0, 1.0])
    w = grpo.tis_weights(old, batch, "sequence_truncate", cap=100.0)  # exp(0.5 - 0.5 + 3) = 20.09
    assert w.tolist()[0] == pytest.approx([float(e(torch.tensor(3.0)))] * 4)
    assert grpo.tis_weights(old, batch, "sequence_mask", cap=10.0).tolist()[0] == [0.0] * 4
    # the weight multiplies the surrogate: ratio 1, A = 1, two tokens at weight 2 and 0.5
    batch.loss_mask = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    weight = torch.tensor([[2.0, 0.5, 1.0, 1.0]])
    loss, _ = grpo.policy_loss(old, old, batch, 2.0, grpo.LossConfig(), is_weight=weight)
    assert float(loss) == pytest.approx(-(2.0 + 0.5) / 2)


@pytest.fixture(scope="module")
def tiny():
    from envmine.rl.tiny import tiny_pair

    return tiny_pair(seed=3)


def _random_traj(tok, reward, n_prompt=6, n_model=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 256, (n_prompt + n_model,), generator=g).tolist()
    t = Trajectory("x", reward=reward, stop_reason="submitted")
    t.segments = [Segment("prompt", "", ids[:n_prompt]), Segment("assistant", "", ids[n_prompt:], True)]
    return t


def test_chunked_logprobs_equal_full_log_softmax_with_temperature(tiny):
    model, tok = tiny
    trajs = [_random_traj(tok, 1.0, seed=1), _random_traj(tok, 0.0, n_model=4, seed=2)]
    batch = grpo.collate(trajs, [1.0, -1.0], tok.pad_token_id)
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1].float()
    full = torch.gather((logits / 0.7).log_softmax(-1), 2, batch.input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    chunked = grpo.token_logprobs(model, batch, temperature=0.7, chunk_tokens=3)
    assert torch.allclose(chunked, full * batch.loss_mask, atol=1e-5)
    # and the gradients through the checkpointed chunks are the same
    (full * batch.loss_mask).sum().backward()
    ref = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    grpo.token_logprobs(model, batch, temperature=0.7, chunk_tokens=3).sum().backward()
    assert all(torch.allclose(a, p.grad, atol=1e-5) for a, p in zip(ref, model.parameters()))
    model.zero_grad()


def test_multi_step_update_moves_the_ratio_and_clips(tiny):
    import copy

    model = copy.deepcopy(tiny[0])
    tok = tiny[1]
    groups = [[_random_traj(tok, r, seed=10 * g + i) for i, r in enumerate([1.0, 0.0, 0.0, 1.0])] for g in range(2)]
    sel = grpo.select(groups)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    stats = grpo.update_policy(model, optimizer, sel, grpo.LossConfig(), tok.pad_token_id, micro_batch=2,
                               minibatches=4, epochs=1)
    assert stats["optimizer_steps"] == 4 and stats["train_tokens"] == 8 * 10
    assert stats["ratio_mean_per_step"][0] == pytest.approx(1.0, abs=1e-6)  # first step: on-policy
    later = stats["ratio_mean_per_step"][1:]
    assert all(abs(r - 1.0) > 1e-3 for r in later), stats
    assert stats["clip_frac_per_step"][0] == 0.0 and max(stats["clip_frac_per_step"][1:]) > 0.0, stats
    assert stats["ratio_max"] > 1.28 or stats["ratio_min"] < 0.8


def test_no_trainable_tokens_no_optimizer_step(tiny):
    model, tok = tiny
    t1, t2 = Trajectory("x", reward=1.0, stop_reason="submitted"), Trajectory("x", reward=0.0, stop_reason="submitted")
    for t in (t1, t2):  # what an endpoint backend leaves: rendered text, nothing generated here
        t.segments = [Segment("prompt", "", [1, 2, 3]), Segment("assistant", "", [4, 5], False)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1.0)
    before = [p.detach().clone() for p in model.parameters()]
    stats = grpo.update_policy(model, optimizer, grpo.select([[t1, t2]]), grpo.LossConfig(), tok.pad_token_id)
    assert stats == {"optimizer_steps": 0, "train_tokens": 0.0, "update_skipped": "no_trainable_tokens"}
    assert optimizer.state_dict()["state"] == {}
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))


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
    last = json.loads(lines[-1])
    assert len(lines) == 20 and last["kept"] + 8 * last["flat_groups"] == 16
    assert last["optimizer_steps"] == 2 and len(last["ratio_mean_per_step"]) == 2
    # resume: two more steps continue from step 20 and the toy stream's position
    cfg.steps = 22
    again = train_config(cfg, home=tmp_path)
    assert again.steps_done == 22 and len(again.mean_rewards) == 2


@pytest.mark.parametrize("preset", ["configs/rl/toy.toml", "configs/rl/grpo_docker.toml",
                                    "configs/rl/grpo_docker_tiny.toml"])
def test_presets_are_valid_configs(preset):
    cfg = load_train_config(preset)
    assert cfg.optim.eps_high > cfg.optim.eps_low and cfg.optim.kl_coef == 0.0


def test_unknown_config_key_is_an_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[optim]\nlearning_rate = 1e-3\n")
    with pytest.raises(ValueError, match="learning_rate"):
        load_train_config(path)


def test_rollout_logprobs_match_the_trainer_at_the_sampling_temperature(tiny):
    """The transformers backend's log-probs are the trainer's (temperature divided out on both
    sides), so importance weights for a shared model are 1; both requests went in one batch."""
    import asyncio

    from envmine.rl.backends.base import GenerateRequest
    from envmine.rl.backends.transformers_cpu import TransformersBackend

    model, tok = tiny
    backend = TransformersBackend(model, tok)
    prompts = [tok.encode("Hello there", add_special_tokens=False), tok.encode("Hi", add_special_tokens=False)]

    async def both():
        return await asyncio.gather(*[backend.generate(GenerateRequest(p, [], max_new_tokens=8, temperature=0.8))
                                      for p in prompts])

    torch.manual_seed(0)
    gens = asyncio.run(both())
    assert backend.batch_sizes == [2]
    trajs = []
    for p, g in zip(prompts, gens):
        assert len(g.logprobs) == len(g.token_ids) and all(lp <= 0 for lp in g.logprobs)
        t = Trajectory("x", reward=0.0, stop_reason="submitted")
        t.segments = [Segment("prompt", "", p), Segment("assistant", "", g.token_ids, True, g.logprobs)]
        trajs.append(t)
    batch = grpo.collate([r for t in trajs for r in grpo.rows(t, 1.0)], None, tok.pad_token_id)
    with torch.no_grad():
        trainer = grpo.token_logprobs(model, batch, temperature=0.8)
    known = batch.rollout_known.bool()
    assert known.sum() == sum(len(g.token_ids) for g in gens)
    assert torch.allclose(trainer[known], batch.rollout_logp[known], atol=1e-4)
    assert torch.allclose(grpo.tis_weights(trainer, batch)[known], torch.ones(int(known.sum())), atol=1e-3)


def test_infrastructure_failures_never_count_against_the_model():
    sick = traj(0.0)
    sick.grade_reason = "infra_error"  # the sandbox failed while grading: reward 0 means nothing
    sel = grpo.select([[traj(1.0), traj(0.0), sick]])
    assert sel.dropped_errors == 1 and len(sel.trajectories) == 2 and sel.advantages == pytest.approx([1.0, -1.0])
