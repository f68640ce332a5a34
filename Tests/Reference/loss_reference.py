#!/usr/bin/env python3
"""Independent float64 reference for the ConaCLIP loss graph.

Written straight from shared/METHOD.md, "Canonical definitions", with torch
autograd for the gradients (checked here against central finite differences
with torch.autograd.gradcheck). It writes the fixture the Swift tests compare
against:

    /opt/refenv/bin/python Tests/Reference/loss_reference.py \
        Tests/ConaclipDistillTests/Fixtures/loss-reference.json

Run by hand only; never from Swift tests or CI.
"""
import json
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

TYPES = ["intra-ts", "intra-ss", "inter-ts", "inter-ss"]
STRATEGIES = ["infonce", "fd", "sd", "kl", "sym-sd", "sym-kl"]
UNDEFINED = {("intra-ss", "infonce"), ("intra-ss", "fd"), ("inter-ss", "sym-sd"), ("inter-ss", "sym-kl")}
TAUS = [0.07, 0.5]
N, D = 6, 5


def l2n(u):
    return u / u.norm(dim=1, keepdim=True)


def log_softmax_rows(z):
    return z - torch.logsumexp(z, dim=1, keepdim=True)


def ce(z):
    """CE(Z) = mean_i [logsumexp_j Z_ij - Z_ii]."""
    return (torch.logsumexp(z, dim=1) - torch.diagonal(z)).mean()


def klr(zt, zs):
    """KLr(Zt || Zs) = mean_i sum_j softmax(Zt)_ij (log softmax(Zt)_ij - log softmax(Zs)_ij)."""
    lt, ls = log_softmax_rows(zt), log_softmax_rows(zs)
    return (lt.exp() * (lt - ls)).sum(dim=1).mean()


def j_sym(u, v, tau):
    return klr(u / tau, v / tau) + klr(v / tau, u / tau)


def edges(kind, X, Y, A, B):
    """(P, Q, teacher target) per edge."""
    return {
        "intra-ts": [(X, A, A @ A.T), (Y, B, B @ B.T)],
        "intra-ss": [(X, X, A @ A.T), (Y, Y, B @ B.T)],
        "inter-ts": [(X, B, A @ B.T), (Y, A, B @ A.T)],
        "inter-ss": [(X, Y, A @ B.T)],
    }[kind]


def mirrors(kind, X, Y, A, B):
    return {
        "intra-ts": (X @ A.T, Y @ B.T),
        "inter-ts": (X @ B.T, A @ Y.T),
        "intra-ss": (X @ X.T, Y @ Y.T),
    }[kind]


def term_value(kind, strategy, tau, xs, ys, a_raw, b_raw, kl_tau_squared=False):
    X, Y, A, B = l2n(xs), l2n(ys), l2n(a_raw), l2n(b_raw)
    A, B = A.detach(), B.detach()  # teachers are constants
    if strategy in ("sym-sd", "sym-kl"):
        ma, mb = mirrors(kind, X, Y, A, B)
        if strategy == "sym-sd":
            value = ((ma - mb) ** 2).mean()
        else:
            value = 0.5 * (j_sym(ma, mb, tau) + j_sym(ma.T, mb.T, tau))
    else:
        value = torch.zeros(())
        for P, Q, T in edges(kind, X, Y, A, B):
            M = P @ Q.T
            if strategy == "infonce":
                value = value + 0.5 * (ce(M / tau) + ce(M.T / tau))
            elif strategy == "fd":
                value = value + ((P - Q) ** 2).sum(dim=1).mean()
            elif strategy == "sd":
                value = value + ((M - T) ** 2).mean()
            elif strategy == "kl":
                value = value + 0.5 * (klr(T / tau, M / tau) + klr(T.T / tau, M.T / tau))
    if kl_tau_squared:
        value = value * tau * tau
    return value


def evaluate(terms, inputs):
    """terms: list of (kind, strategy, tau, weight, kl_tau_squared)."""
    xs = inputs["student_image"].clone().requires_grad_(True)
    ys = inputs["student_text"].clone().requires_grad_(True)
    values = [term_value(k, s, t, xs, ys, inputs["teacher_image"], inputs["teacher_text"], sq)
              for k, s, t, _, sq in terms]
    total = sum(w * v for (_, _, _, w, _), v in zip(terms, values))
    gx, gy = torch.autograd.grad(total, [xs, ys])
    return [float(v.detach()) for v in values], float(total.detach()), gx, gy


def flat(t):
    return [float(v) for v in t.reshape(-1)]


def spec(kind, strategy, tau, weight=1.0):
    base = f"{kind}:{strategy}:{tau}"
    return base if weight == 1.0 else f"{base}:{weight}"


def main(out_path):
    rng = np.random.default_rng(20230527)
    names = ["student_image", "student_text", "teacher_image", "teacher_text"]
    raw = {}
    # Rows of different norms (the loss must normalise); students correlated
    # with their teachers so that the distances are not all alike.
    raw["teacher_image"] = rng.normal(size=(N, D)) * rng.uniform(0.5, 3.0, size=(N, 1))
    raw["teacher_text"] = 0.6 * raw["teacher_image"] + rng.normal(size=(N, D))
    raw["student_image"] = 0.5 * raw["teacher_image"] + rng.normal(size=(N, D)) * rng.uniform(0.2, 2.0, size=(N, 1))
    raw["student_text"] = 0.5 * raw["teacher_text"] + rng.normal(size=(N, D)) * rng.uniform(0.2, 2.0, size=(N, 1))
    # Round to float32 so the Swift side reads exactly the same inputs.
    inputs = {k: torch.tensor(raw[k].astype(np.float32).astype(np.float64)) for k in names}

    # Self-check: autograd against central finite differences, every term.
    for kind in TYPES:
        for strategy in STRATEGIES:
            if (kind, strategy) in UNDEFINED:
                continue
            xs = inputs["student_image"].clone().requires_grad_(True)
            ys = inputs["student_text"].clone().requires_grad_(True)
            f = lambda x, y: term_value(kind, strategy, 0.3, x, y, inputs["teacher_image"], inputs["teacher_text"])
            assert torch.autograd.gradcheck(f, (xs, ys), eps=1e-6, atol=1e-7, rtol=1e-5), (kind, strategy)

    cases = []
    for kind in TYPES:
        for strategy in STRATEGIES:
            if (kind, strategy) in UNDEFINED:
                continue
            for tau in TAUS:
                options = [False, True] if strategy in ("kl", "sym-kl") else [False]
                for sq in options:
                    values, total, gx, gy = evaluate([(kind, strategy, tau, 1.0, sq)], inputs)
                    cases.append({
                        "term": spec(kind, strategy, tau), "type": kind, "strategy": strategy,
                        "tau": tau, "kl_tau_squared": sq, "value": values[0],
                        "grad_student_image": flat(gx), "grad_student_text": flat(gy),
                    })

    # METHOD.md's default combination (distillation part), with weights.
    combo_terms = [
        ("intra-ts", "infonce", 0.07, 1.0, False), ("intra-ts", "fd", 1.0, 0.5, False),
        ("intra-ts", "sym-sd", 1.0, 2.0, False), ("intra-ss", "sd", 1.0, 1.5, False),
        ("inter-ts", "sym-kl", 0.5, 0.25, False), ("inter-ss", "kl", 0.07, 1.0, False),
    ]
    values, total, gx, gy = evaluate(combo_terms, inputs)
    combination = {
        "terms": [spec(k, s, t, w) for k, s, t, w, _ in combo_terms], "values": values, "total": total,
        "grad_student_image": flat(gx), "grad_student_text": flat(gy),
    }

    fixture = {
        "provenance": "Tests/Reference/loss_reference.py (torch float64 autograd, from METHOD.md canonical "
                      "definitions; gradients are w.r.t. the raw student embeddings)",
        "n": N, "d": D,
        "inputs": {k: flat(inputs[k]) for k in names},
        "cases": cases,
        "combination": combination,
    }
    with open(out_path, "w") as f:
        json.dump(fixture, f)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {out_path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "loss-reference.json")
