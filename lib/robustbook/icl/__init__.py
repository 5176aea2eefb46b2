"""In-context learning studies: linear-regression task families, a GPT-2 that reads interleaved
(x, y) tokens, Bayes-optimal baselines, conjugate prompts, and the LLM prompt datasets of
Kotha et al. (2024) with an evaluation loop for any causal LM."""
