"""robustbook.jailbreak: DPO loss against its formula, sequence log-probs, GCG's one-hot gradient
against finite differences, batched scoring, candidate sampling, re-tokenisation, the filters and
the colour-chat corpus. All on tiny models in seconds."""

import math

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast

from robustbook.jailbreak.chat import attack_problem, replies, reply_ids
from robustbook.jailbreak.corpus import ANSWERS, SAFE_PHRASE, ColorChat, prompt_text
from robustbook.jailbreak.dpo import dpo_loss, dpo_train, encode_pairs, sequence_logprobs
from robustbook.jailbreak.filters import (
    encode_right_padded,
    greedy_generate,
    log_perplexities,
    normalise,
    output_flagged,
    perplexity_threshold,
)
from robustbook.jailbreak.gcg import (
    AttackProblem,
    GCGSettings,
    gcg_attack,
    retokenizes,
    sample_candidates,
    score_suffixes,
    shared_prefix_logits,
    token_gradients,
)
from robustbook.models.tiny_lm import tiny_gpt2, word_tokenizer


@pytest.fixture(scope="module")
def chat():
    return ColorChat(seed=3)


@pytest.fixture(scope="module")
def tok(chat):
    return word_tokenizer(chat.vocabulary())


@pytest.fixture(scope="module")
def model(tok):
    torch.manual_seed(0)
    return tiny_gpt2(len(tok), n_embd=32, seed=1).eval()


# ---- DPO ----------------------------------------------------------------------------------------

def test_dpo_loss_matches_the_formula_and_its_asymmetries():
    pc, pr, rc, rr, beta = torch.tensor([-1.0, -4.0]), torch.tensor([-3.0, -2.0]), torch.tensor([-2.0, -3.5]), \
        torch.tensor([-2.5, -1.0]), 0.3
    # margins: (-1+2) - (-3+2.5) = 1.5 ; (-4+3.5) - (-2+1) = 0.5
    hand = (math.log1p(math.exp(-0.3 * 1.5)) + math.log1p(math.exp(-0.3 * 0.5))) / 2
    assert float(dpo_loss(pc, pr, rc, rr, beta)) == pytest.approx(hand, rel=1e-6)
    assert float(dpo_loss(pr, pc, rr, rc, beta)) != pytest.approx(hand)          # swapped chosen/rejected
    assert float(dpo_loss(pc, pr, rr, rc, beta)) != pytest.approx(hand)          # swapped references
    assert float(dpo_loss(pc, pr, rc, rr, 0.6)) != pytest.approx(hand)           # beta matters
    assert float(dpo_loss(pc, pr, pc, pr, beta)) == pytest.approx(math.log(2))   # policy == reference


def test_sequence_logprobs_sum_only_the_answer_tokens(model, tok):
    ids, mask = encode_pairs(tok, [prompt_text("what color is the grape ?")] * 2, ["it is purple .", "purple ."])
    assert mask.sum(1).tolist() == [4, 2] and mask[0, :11].sum() == 0 and bool(mask[0, 11])
    got = sequence_logprobs(model, ids, mask, tok.pad_token_id)
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids[:1]).logits[0], -1)
    n = int((ids[0] != tok.pad_token_id).sum())
    hand = sum(float(logp[t - 1, ids[0, t]]) for t in range(n - 4, n))
    assert float(got[0]) == pytest.approx(hand, abs=1e-4)


def test_dpo_training_moves_probability_from_rejected_to_chosen(tok, chat):
    model = tiny_gpt2(len(tok), n_embd=32, seed=2)
    pairs = chat.preference_pairs()[:16]
    prompts = [p for p, _, _ in pairs]
    c_ids, c_mask = encode_pairs(tok, prompts, [c for _, c, _ in pairs])
    r_ids, r_mask = encode_pairs(tok, prompts, [r for _, _, r in pairs])

    def margin():
        with torch.no_grad():
            return float((sequence_logprobs(model, c_ids, c_mask, 0) - sequence_logprobs(model, r_ids, r_mask, 0)).mean())
    before = margin()
    losses = dpo_train(model, tok, pairs, beta=0.3, epochs=3, batch_size=8, lr=1e-3,
                       generator=torch.Generator().manual_seed(0))
    assert losses[0] == pytest.approx(math.log(2), abs=0.05) and losses[-1] < losses[0]
    assert margin() > before + 1.0
    with pytest.raises(ValueError, match="no parameter"):
        dpo_train(model, tok, pairs, beta=0.3, epochs=1, batch_size=8, lr=1e-3,
                  generator=torch.Generator(), trainable="no-such-layer")


# ---- GCG ----------------------------------------------------------------------------------------

def _problem(tok) -> AttackProblem:
    return attack_problem(tok, "<s> user : what color is the grape ?", "assistant :", "it is purple")


def _objective(model, problem, one_hot, fluency):
    emb = model.get_input_embeddings()
    x = torch.cat([emb(problem.prefix), one_hot @ emb.weight, emb(torch.cat([problem.post, problem.target]))])
    logp = torch.log_softmax(model(inputs_embeds=x[None]).logits[0, :-1], -1)
    ids = torch.cat([problem.prompt(one_hot.argmax(1)), problem.target])
    tok_lp = logp.gather(-1, ids[1:, None])[:, 0]
    n_prompt = len(ids) - len(problem.target)
    return -tok_lp[n_prompt - 1:].mean() - fluency * tok_lp[:n_prompt - 1].mean()


@pytest.mark.parametrize("fluency", [0.0, 0.7])
def test_token_gradient_matches_finite_differences(tok, fluency):
    model = tiny_gpt2(len(tok), n_embd=16, seed=4).double().eval()
    problem = _problem(tok)
    suffix = torch.tensor([10, 20, 30, 40])
    grad = token_gradients(model, problem, suffix, fluency)
    one_hot = torch.nn.functional.one_hot(suffix, len(tok)).double()
    eps = 1e-5
    for pos, tok_id in ((0, 7), (2, 55), (3, 40)):
        up, down = one_hot.clone(), one_hot.clone()
        up[pos, tok_id] += eps
        down[pos, tok_id] -= eps
        with torch.no_grad():
            fd = (_objective(model, problem, up, fluency) - _objective(model, problem, down, fluency)) / (2 * eps)
        assert float(grad[pos, tok_id]) == pytest.approx(float(fd), rel=1e-4, abs=1e-7)


def test_batched_scores_equal_one_by_one_and_chunking(model, tok):
    problem = _problem(tok)
    suffixes = torch.randint(5, len(tok), (7, 4), generator=torch.Generator().manual_seed(0))
    obj, nll = score_suffixes(model, problem, suffixes, fluency=0.5, batch_size=3)
    for i in range(7):
        o1, n1 = score_suffixes(model, problem, suffixes[i:i + 1], fluency=0.5)
        assert float(o1[0]) == pytest.approx(float(obj[i]), abs=1e-5) and float(n1[0]) == pytest.approx(float(nll[i]), abs=1e-5)
    with torch.no_grad():
        ids = torch.cat([problem.prompt(suffixes[2]), problem.target])[None]
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], -1)
        hand = -np.mean([float(logp[t - 1, ids[0, t]]) for t in range(ids.shape[1] - 3, ids.shape[1])])
    assert float(nll[2]) == pytest.approx(hand, abs=1e-5)
    assert float(obj[2]) > float(nll[2])  # the fluency term adds the prompt's log-perplexity


def test_repeated_suffixes_score_like_a_plain_batched_pass(model, tok):
    problem = _problem(tok)
    base = torch.randint(5, len(tok), (5, 4), generator=torch.Generator().manual_seed(1))
    suffixes = base[[0, 1, 0, 2, 3, 1, 4, 0]]                      # repeats, in no order
    obj, nll = score_suffixes(model, problem, suffixes, fluency=0.5)
    assert obj[0] == obj[2] == obj[7] and obj[1] == obj[5] and nll[0] == nll[2]
    with torch.no_grad():
        ids = torch.cat([problem.prompt(suffixes), problem.target.expand(len(suffixes), -1)], dim=1)
        logp = torch.log_softmax(model(input_ids=ids).logits[:, :-1], -1).gather(-1, ids[:, 1:, None])[..., 0]
    n = ids.shape[1] - len(problem.target)
    hand_nll = -logp[:, n - 1:].mean(1)
    torch.testing.assert_close(nll, hand_nll, rtol=0, atol=1e-6)
    torch.testing.assert_close(obj, hand_nll - 0.5 * logp[:, :n - 1].mean(1), rtol=0, atol=1e-6)


@pytest.mark.parametrize("n_prefix", [0, 1, 9, 12])
def test_shared_prefix_logits_equal_a_full_forward(model, tok, n_prefix):
    problem = _problem(tok)
    suffixes = torch.randint(5, len(tok), (6, 3), generator=torch.Generator().manual_seed(2))
    ids = torch.cat([problem.prompt(suffixes), problem.target.expand(6, -1)], dim=1)   # prefix: 9 tokens
    ids[:, :n_prefix] = ids[0, :n_prefix]
    with torch.no_grad():
        full = model(input_ids=ids).logits
        shared = shared_prefix_logits(model, ids, n_prefix)
        single = shared_prefix_logits(model, ids[:1], n_prefix)
    assert shared.shape == full.shape and len(problem.prefix) == 9
    torch.testing.assert_close(shared, full, rtol=0, atol=1e-5)
    torch.testing.assert_close(single, full[:1], rtol=0, atol=1e-5)   # one row: a plain forward pass


def test_candidates_are_single_swaps_among_allowed_top_k():
    suffix = torch.tensor([1, 2, 3])
    grad = torch.zeros(3, 10)
    grad[:, 9] = -5.0   # best by gradient but not allowed
    grad[:, 4] = -3.0
    grad[:, 6] = -2.0
    allowed = torch.ones(10, dtype=torch.bool)
    allowed[9] = False
    cands = sample_candidates(suffix, grad, allowed, top_k=2, n_candidates=200,
                              generator=torch.Generator().manual_seed(0))
    diff = cands != suffix
    assert diff.sum(1).max() <= 1 and cands.shape == (200, 3)
    assert set(cands[diff].tolist()) <= {4, 6} and set(cands[diff].tolist()) == {4, 6}
    assert set(diff.nonzero()[:, 1].tolist()) == {0, 1, 2}


def test_retokenize_filter_drops_suffixes_that_merge():
    core = Tokenizer(models.BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")]))
    bpe = PreTrainedTokenizerFast(tokenizer_object=core)
    got = retokenizes(bpe, torch.tensor([[0, 1], [2, 0], [1, 0], [0, 1], [2, 0]]))
    assert got.tolist() == [False, True, True, False, True] and got.dtype == torch.bool


def test_gcg_best_loss_never_increases_and_stops_at_success(model, tok):
    problem = _problem(tok)
    allowed = torch.ones(len(tok), dtype=torch.bool)
    allowed[:5] = False
    cfg = GCGSettings(suffix_len=4, steps=6, restarts=2, top_k=8, n_candidates=32, check_every=2)
    res = gcg_attack(model, tok, problem, allowed, lambda s: False, cfg, torch.Generator().manual_seed(0))
    assert len(res.losses) == 12 and res.steps == 12 and res.restarts == 2 and not res.success
    assert all(b <= a + 1e-12 for a, b in zip(res.losses, res.losses[1:]))
    assert res.best_loss == pytest.approx(min(res.losses))
    assert res.candidates_scored == 12 * 32 and bool(allowed[res.suffix].all())
    first = score_suffixes(model, problem, res.suffix[None])[0]
    assert float(first[0]) == pytest.approx(res.best_loss, abs=1e-5)
    calls = []
    res2 = gcg_attack(model, tok, problem, allowed, lambda s: calls.append(1) or len(calls) == 2, cfg,
                      torch.Generator().manual_seed(0))
    assert res2.success and res2.steps == 4 and res2.restarts == 1
    init = torch.tensor([10, 11, 12, 13])
    res3 = gcg_attack(model, tok, problem, allowed, lambda s: True, cfg, torch.Generator().manual_seed(0), init=init)
    assert res3.steps == 2 and int((res3.suffix != init).sum()) <= 2  # two single swaps from init


# ---- filters ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, flagged", [
    ("it is purple .", True), ("PURPLE", True), ("p u r p l e", True), ("pur-ple!", True),
    ("p\u200bu\u200br\u200bple", True), ("Pürple", True), ("it is plum .", False),
    ("pure ample", False), ("purpl e-ish? no: purp", True), ("purp", False),
])
def test_output_filter_catches_spacing_and_case_tricks(text, flagged):
    assert output_flagged(text) is flagged
    assert normalise("A b-C\u200b1") == "abc"


def test_log_perplexity_by_hand_and_windowed(model, tok):
    texts = [prompt_text("what color is the grape ?"), "<s> user : it is"]
    ids = encode_right_padded(tok, texts)
    got = log_perplexities(model, ids, tok.pad_token_id)
    with torch.no_grad():
        n = int((ids[1] != 0).sum())
        logp = torch.log_softmax(model(input_ids=ids[1:2, :n]).logits[0], -1)
        nll = [-float(logp[t - 1, ids[1, t]]) for t in range(1, n)]
    assert float(got[1]) == pytest.approx(np.mean(nll), abs=1e-5)
    win = log_perplexities(model, ids, tok.pad_token_id, window=2)
    assert float(win[1]) == pytest.approx(max(np.mean(nll[i:i + 2]) for i in range(len(nll) - 1)), abs=1e-5)
    assert float(win[0]) >= float(got[0]) - 1e-6
    assert perplexity_threshold(torch.tensor([1.0, 3.0, 2.0])) == 3.0
    assert perplexity_threshold(torch.tensor([1.0, 3.0, 2.0]), 0.5) == 2.0


def test_greedy_generation_matches_transformers_generate(model, tok):
    prompts = ["<s> user : what color is the grape ? assistant :", "<s> user : what color is the lemon ? assistant :"]
    ids = encode_right_padded(tok, prompts)
    mine = greedy_generate(model, ids, 5)
    ref = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=5, do_sample=False,
                         pad_token_id=tok.pad_token_id)[:, ids.shape[1]:]
    assert torch.equal(mine, ref)
    assert len(reply_ids(model, tok, [ids[0], ids[1, :-2]], 3)) == 2
    assert isinstance(replies(model, tok, prompts, 3)[0], str)


# ---- corpus -------------------------------------------------------------------------------------

def test_corpus_pairs_split_and_vocabulary(chat, tok):
    pairs = chat.preference_pairs()
    assert all("purple" not in c and "purple" in r for _, c, r in pairs)
    assert all(c.replace(SAFE_PHRASE, "purple") == r for _, c, r in pairs)
    train_q = {p for p, _, _ in pairs}
    held = chat.heldout_questions()
    assert not train_q & {prompt_text(q) for q in held}
    assert len(held) == round(chat.heldout_fraction * 8 * len(chat.purple_objects))
    assert len(pairs) == (8 * len(chat.purple_objects) - len(held)) * len(ANSWERS)
    texts = chat.pretraining_texts(200, np.random.default_rng(0))
    ids = encode_right_padded(tok, texts)
    assert tok.unk_token_id not in ids.tolist()
    assert any("purple" in t for t in texts) and any(t.startswith("<s> the ") for t in texts)
    assert all(c != "purple" for _, c in chat.benign_questions())
    with pytest.raises(ValueError, match="heldout_fraction"):
        ColorChat(heldout_fraction=1.0)
