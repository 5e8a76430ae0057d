"""Path-dependent tree SHAP over scikit-learn trees, in numpy (Lundberg et al., 2020).

Exact Shapley values of a sum of weighted trees for each row, without a background: the trees'
training covers stand in for it. Used by relayml.monitoring.attributions for scikit-learn's
trees and forests; XGBoost and LightGBM compute the same with their own implementation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["leaf_paths", "node_values", "tree_shap"]


def node_values(tree: Any, c: int, classifier: bool) -> np.ndarray:
    value = np.asarray(tree.value[:, 0, :], dtype=np.float64)
    if not classifier:
        return value[:, 0]
    result: np.ndarray = value[:, c] / value.sum(axis=1)  # counts or fractions, by sklearn version
    return result


def tree_shap(trees: list[tuple[Any, np.ndarray, float]], x: np.ndarray) -> tuple[Any, float]:
    """Path-dependent tree SHAP of sum(weight * tree) for each row of x: (phi, expected value).

    Per leaf, E[f | x_S] is value * prod over the path's features d of (o_d if d in S else z_d):
    o_d = 1 if x meets every split on d along the path, z_d the share of training cover that
    does. That product game has closed-form Shapley values: with A = {d: o_d = 1}, B the rest,
    m = |A| + |B|, w(k) = k!(m-k-1)!/m!, F(A') = sum_k w(k) e_{|A'|-k}(z over A') (e: the
    elementary symmetric polynomials), phi_d = (1 - z_d) Z_B F(A - d) for d in A and
    -Z_B F(A) for d in B, Z_B = prod of z over B. All leaves of all trees go at once in numpy.
    """
    tables: list[tuple[np.ndarray, ...]] = []
    features, thresholds, missing_left, expected, start = [], [], [], 0.0, 0
    for tree, values, weight in trees:
        leaf, path, *steps = leaf_paths(tree)
        cover = tree.weighted_n_node_samples
        expected += weight * float(values[leaf] @ cover[leaf]) / float(cover[0])
        tables.append((weight * values[leaf], np.where(path >= 0, path + start, -1), *steps))
        features.append(np.maximum(tree.feature, 0))
        thresholds.append(tree.threshold)
        default = np.zeros(tree.node_count, dtype=bool)
        missing_left.append(np.asarray(getattr(tree, "missing_go_to_left", default), dtype=bool))
        start += tree.node_count
    depth = max(1, *(t[1].shape[1] for t in tables))
    value = np.concatenate([t[0] for t in tables])
    on_path, to_left, share, feature, slot = (
        _stack([t[i] for t in tables], depth, fill)
        for i, fill in ((1, -1), (2, True), (3, 1.0), (4, -1), (5, -1))
    )
    on_path[on_path < 0] = start
    size = (slot.max(axis=1) + 1).astype(int)
    n_features, count, slots = x.shape[1], len(value), max(1, int(size.max()))
    slot[slot < 0] = slots
    feat, zero = np.full((count, slots + 1), n_features), np.ones((count, slots + 1))
    for p in range(depth):
        zero[np.arange(count), slot[:, p]] *= share[:, p]
        feat[np.arange(count), slot[:, p]] = np.where(feature[:, p] >= 0, feature[:, p], n_features)
    feat, zero = feat[:, :slots], zero[:, :slots]
    all_features = np.concatenate(features)
    all_thresholds, all_missing = np.concatenate(thresholds), np.concatenate(missing_left)
    weights = np.zeros((slots + 1, slots + 2))  # w[m, k] = k!(m-k-1)!/m!, 0 outside 0 <= k < m
    for m in range(1, slots + 1):
        for k in range(m):
            weights[m, k] = math.factorial(k) * math.factorial(m - k - 1) / math.factorial(m)
    valid = np.arange(slots) < size[:, None]
    out = np.zeros((len(x), n_features + 1))
    chunk = max(1, 2**21 // (count * (slots + 1)))
    for lo in range(0, len(x), chunk):
        rows = x[lo : lo + chunk]
        at_nodes = rows[:, all_features]
        goes = np.where(np.isnan(at_nodes), all_missing, at_nodes <= all_thresholds)
        goes = np.concatenate([goes, np.ones((len(rows), 1), dtype=bool)], axis=1)
        match = goes[:, on_path] == to_left
        ones = np.ones((len(rows), count, slots + 1), dtype=bool)
        for p in range(depth):
            ones[:, np.arange(count), slot[:, p]] &= match[:, :, p]
        in_a, in_b = ones[:, :, :slots] & valid, ~ones[:, :, :slots] & valid
        z_b = np.where(in_b, zero, 1.0).prod(axis=-1)
        poly = np.zeros((len(rows), count, slots + 1))
        poly[..., 0] = 1.0
        for u in range(slots):  # multiply by (1 + z_u t) for u in A
            poly[..., 1 : u + 2] += (in_a[..., u] * zero[:, u])[..., None] * poly[..., : u + 1]
        a = in_a.sum(axis=-1)[..., None] - np.arange(slots + 1)
        w_all = np.where(a >= 0, weights[size[:, None], np.maximum(a, 0)], 0.0)
        w_less = np.where(a >= 1, weights[size[:, None], np.maximum(a - 1, 0)], 0.0)
        f_all = (poly * w_all).sum(axis=-1)
        phi = np.zeros((len(rows), count, slots))
        for u in range(slots):
            z_u = zero[:, u]
            quotient, f_less = poly[..., 0], poly[..., 0] * w_less[..., 0]
            for j in range(1, slots + 1):  # divide by (1 + z_u t): F(A - u)
                quotient = poly[..., j] - z_u * quotient
                f_less = f_less + quotient * w_less[..., j]
            phi[..., u] = np.where(
                in_a[..., u], (1 - z_u) * f_less, np.where(in_b[..., u], -f_all, 0)
            )
        phi *= (z_b * value)[..., None]
        index = np.arange(len(rows))[:, None, None] * (n_features + 1) + feat
        sums = np.bincount(index.ravel(), phi.ravel(), minlength=len(rows) * (n_features + 1))
        out[lo : lo + chunk] = sums.reshape(len(rows), n_features + 1)
    return out[:, :n_features], expected


def leaf_paths(tree: Any) -> tuple[np.ndarray, ...]:
    """Each leaf of an sklearn tree with its path, level by level in numpy.

    Returns leaf ids and, per step of the path (padded with -1 / True / 1.0 / -1 / -1): the node,
    whether it goes left, the share of the node's cover it keeps, the node's feature, and the
    feature's slot (the index among the distinct features of the path, by first appearance).
    """
    left_of, right_of, cover = tree.children_left, tree.children_right, tree.weighted_n_node_samples
    frontier, path = np.array([0]), np.zeros((1, 0), dtype=np.int64)
    turn, share = np.zeros((1, 0), dtype=bool), np.zeros((1, 0))
    found: list[tuple[np.ndarray, ...]] = []
    while frontier.size:
        leaf = left_of[frontier] == -1
        found.append((frontier[leaf], path[leaf], turn[leaf], share[leaf]))
        inner, path, turn, share = frontier[~leaf], path[~leaf], turn[~leaf], share[~leaf]
        frontier = np.concatenate([left_of[inner], right_of[inner]])
        path = np.column_stack([np.tile(path, (2, 1)), np.tile(inner, 2)])
        turn = np.column_stack([np.tile(turn, (2, 1)), np.repeat([True, False], len(inner))])
        share = np.column_stack(
            [np.tile(share, (2, 1)), cover[frontier] / np.tile(cover[inner], 2)]
        )
    depth = max(1, len(found) - 1)  # a tree that is one leaf still gets a (padding) step
    leaves = np.concatenate([f[0] for f in found])
    path, turn, share = (
        _stack([f[i] for f in found], depth, x) for i, x in enumerate((-1, 1, 1.0), 1)
    )
    feature = np.where(path >= 0, tree.feature[np.maximum(path, 0)], -1)
    same = (feature[:, :, None] == feature[:, None, :]) & (feature[:, :, None] >= 0)
    first_at = same.argmax(axis=2)  # the first step on the same feature
    first = (first_at == np.arange(depth)) & (feature >= 0)
    slot = np.take_along_axis(np.cumsum(first, axis=1) - 1, first_at, axis=1)
    return leaves, path, turn, share, feature, np.where(feature >= 0, slot, -1)


def _stack(blocks: list[np.ndarray], width: int, fill: Any) -> np.ndarray:
    """2-D blocks of up to width columns stacked, each row padded with fill."""
    out = np.full((sum(len(b) for b in blocks), width), fill, dtype=blocks[0].dtype)
    row = 0
    for block in blocks:
        out[row : row + len(block), : block.shape[1]] = block
        row += len(block)
    return out
