"""Decoding: dependency trees from biaffine arc scores, answer spans from start/end logits.

Heads (§4.4.3; Dozat & Manning 2017): ``greedy_heads`` takes each word's best-scoring head (what
the thesis's reference code evaluates); ``mst_heads`` finds the maximum spanning arborescence
(Chu-Liu/Edmonds) with exactly one word attached to the root, by lowering every root arc by a
constant larger than any tree's score range (Zmigrod et al., 2020), so the result is a well-formed
UD tree.

Spans (§4.4.4): ``best_spans`` returns, per window, the span (i, j) of context tokens with
i <= j < i + max_answer_length maximising start_logit[i] + end_logit[j].
"""

from __future__ import annotations

import numpy as np
import torch


# ---------------------------------------------------------------------------- dependency heads
def greedy_heads(scores: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``scores[b, i, j]``: score of candidate head j (0 = root, j = word j) for word i+1;
    ``valid`` masks impossible heads. Returns the argmax head per word."""
    return scores.masked_fill(~valid, float("-inf")).argmax(-1)


def _find_cycle(heads: np.ndarray) -> list[int] | None:
    state = np.zeros(len(heads), dtype=np.int8)  # 0 new, 1 on the current path, 2 finished
    for start in range(1, len(heads)):
        path: list[int] = []
        node = start
        while node > 0 and state[node] == 0:
            state[node] = 1
            path.append(node)
            node = int(heads[node])
        if node > 0 and state[node] == 1:
            return path[path.index(node):]
        state[path] = 2
    return None


def _chu_liu_edmonds(scores: np.ndarray) -> np.ndarray:
    """Maximum spanning arborescence rooted at node 0; ``scores[d, h]`` scores the arc h -> d."""
    heads = scores.argmax(axis=1)
    heads[0] = -1
    cycle = _find_cycle(heads)
    if cycle is None:
        return heads
    cycle = sorted(cycle)
    in_cycle = np.zeros(len(scores), dtype=bool)
    in_cycle[cycle] = True
    rest = np.flatnonzero(~in_cycle)  # rest[0] == 0: the root is never on a cycle
    m = len(rest)
    contracted = np.full((m + 1, m + 1), -np.inf)
    contracted[:m, :m] = scores[np.ix_(rest, rest)]
    leaving = scores[np.ix_(rest, cycle)]  # arcs from a cycle node to an outside dependent
    leaving_from = leaving.argmax(axis=1)
    contracted[:m, m] = leaving.max(axis=1)
    kept = scores[cycle, heads[cycle]]
    entering = scores[np.ix_(cycle, rest)] - kept[:, None]  # gain of breaking the cycle at each node
    entering_at = entering.argmax(axis=0)
    contracted[m, :m] = entering.max(axis=0) + kept.sum()
    sub = _chu_liu_edmonds(contracted)
    result = heads.copy()
    for i in range(1, m):
        result[rest[i]] = cycle[leaving_from[i]] if sub[i] == m else rest[sub[i]]
    h = sub[m]
    result[cycle[entering_at[h]]] = rest[h]
    return result


def mst_heads(scores: np.ndarray, single_root: bool = True) -> np.ndarray:
    """Best tree for one sentence: ``scores[d, h]`` for d, h in 0..n (row 0 and -inf entries are
    ignored). Returns heads for words 1..n (array of length n)."""
    scores = np.array(scores, dtype=np.float64)
    n = len(scores) - 1
    if n < 1:
        return np.zeros(0, dtype=np.int64)
    scores[0] = -np.inf
    np.fill_diagonal(scores, -np.inf)
    if single_root:
        finite = scores[np.isfinite(scores)]
        penalty = (finite.max() - finite.min() + 1.0) * (n + 1)
        scores[1:, 0] -= penalty
    return _chu_liu_edmonds(scores)[1:].astype(np.int64)


def tree_score(scores: np.ndarray, heads: np.ndarray) -> float:
    return float(sum(scores[d + 1, h] for d, h in enumerate(heads)))


# ---------------------------------------------------------------------------- QA spans
def best_spans(start: torch.Tensor, end: torch.Tensor, valid: torch.Tensor,
               max_answer_length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per window (rows of ``start``/``end`` [B, L]): the score, start and end token of the span
    maximising start + end logits over context tokens (``valid``) with end >= start and length <=
    ``max_answer_length``. A window without context tokens gets score -inf."""
    length = start.shape[1]
    positions = torch.arange(length, device=start.device)
    width = positions[None, :] - positions[:, None]
    allowed = (width >= 0) & (width < max_answer_length)
    allowed = allowed[None] & valid[:, :, None] & valid[:, None, :]
    scores = (start[:, :, None] + end[:, None, :]).float().masked_fill(~allowed, float("-inf"))
    best, index = scores.view(len(start), -1).max(-1)
    return best, index // length, index % length
