"""RL stage: environment API, agent scaffold, perturbations, rollouts, reward, GRPO, evaluation."""
