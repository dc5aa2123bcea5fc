"""Runs pyBKT (C++ engine) and `huddle kt` on the same CSV and prints the figures side by side.

Usage: python compare.py --csv FILE --huddle PATH [--restarts 5] [--folds 5] [--runs 3]
Both log-likelihoods are recomputed here by the same numpy forward pass, so they are
comparable whatever each tool reports.
"""
import argparse
import json
import os
import statistics
import subprocess
import time

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def sequences(df):
    """Per skill: a (students x max_len) matrix of answers and a mask, in time order."""
    out = {}
    df = df.sort_values(["skill_id", "student_id", "order"], kind="mergesort")
    for skill, g in df.groupby("skill_id", sort=True):
        pos = g.groupby("student_id", sort=False).cumcount().to_numpy()
        stu = pd.factorize(g["student_id"])[0]
        obs = np.zeros((stu.max() + 1, pos.max() + 1))
        mask = np.zeros_like(obs, dtype=bool)
        obs[stu, pos] = g["correct"].to_numpy()
        mask[stu, pos] = True
        out[skill] = (obs, mask)
    return out


def log_likelihood(seqs, params):
    total = 0.0
    for skill, (obs, mask) in seqs.items():
        p = params[skill]
        known = np.full(obs.shape[0], p["prior"])
        for t in range(obs.shape[1]):
            o, m = obs[:, t], mask[:, t]
            pc = known * (1 - p["slip"]) + (1 - known) * p["guess"]
            lik = np.where(o == 1, pc, 1 - pc)
            total += np.log(lik[m]).sum()
            post = np.where(o == 1, known * (1 - p["slip"]), known * p["slip"]) / lik
            nxt = post * (1 - p["forget"]) + (1 - post) * p["learn"]
            known = np.where(m, nxt, known)
    return total


def run_huddle(huddle, args):
    t = time.perf_counter()
    out = subprocess.run([huddle, "kt", *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out), time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--huddle", required=True)
    ap.add_argument("--restarts", type=int, default=5)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3, help="runs of each timed step (median kept)")
    ap.add_argument("--pybkt-runs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()

    from pyBKT.models import Model
    import pyBKT.fit.E_step  # noqa: F401  (fails if only the slow pure-Python engine is installed)

    df = pd.read_csv(a.csv)
    seqs = sequences(df)
    print(f"rows {len(df)}, skills {df.skill_id.nunique()}, students {df.student_id.nunique()}, nproc {os.cpu_count()}")

    # --- huddle kt fit (wall time of the whole process, CSV parsing included)
    fits = [run_huddle(a.huddle, ["fit", "--csv", a.csv, "--restarts", str(a.restarts), "--seed", str(a.seed)])
            for _ in range(a.runs)]
    h_fit, _ = fits[0]
    h_wall = statistics.median(w for _, w in fits)
    h_params = {s: v for s, v in h_fit["skills"].items()}
    h_ll = log_likelihood(seqs, h_params)

    # --- pyBKT fit, same number of random starts
    renamed = df.rename(columns={"student_id": "user_id", "skill_id": "skill_name", "order": "order_id"})
    p_walls = []
    for _ in range(a.pybkt_runs):
        model = Model(seed=a.seed, num_fits=a.restarts, parallel=True)
        t = time.perf_counter()
        model.fit(data=renamed)
        p_walls.append(time.perf_counter() - t)
    p_wall = statistics.median(p_walls)
    p_params = {}
    for skill, m in model.fit_model.items():
        p_params[skill] = {"prior": float(m["prior"]), "learn": float(m["learns"][0]),
                           "guess": float(m["guesses"][0]), "slip": float(m["slips"][0]),
                           "forget": float(m["forgets"][0])}
    p_ll = log_likelihood(seqs, p_params)

    # --- cross-validation
    cvs = [run_huddle(a.huddle, ["cv", "--csv", a.csv, "--folds", str(a.folds), "--restarts", str(a.restarts),
                                 "--seed", str(a.seed)]) for _ in range(a.runs)]
    h_cv, _ = cvs[0]
    h_cv_wall = statistics.median(w for _, w in cvs)

    model = Model(seed=a.seed, num_fits=a.restarts, parallel=True)
    t = time.perf_counter()
    cv = model.crossvalidate(data=renamed, folds=a.folds, metric="auc")
    p_cv_wall = time.perf_counter() - t
    p_cv_auc = float(cv["auc"].mean())

    # pyBKT pooled AUC over student folds, the same measure as `kt cv`'s `auc`
    students = renamed["user_id"].unique()
    rng = np.random.RandomState(a.seed)
    fold_of = dict(zip(rng.permutation(students), np.arange(len(students)) % a.folds))
    renamed["fold"] = renamed["user_id"].map(fold_of)
    preds, truth = [], []
    for f in range(a.folds):
        m = Model(seed=a.seed, num_fits=a.restarts, parallel=True)
        m.fit(data=renamed[renamed.fold != f])
        test = renamed[renamed.fold == f]
        pr = m.predict(data=test)
        preds.append(pr["correct_predictions"].to_numpy())
        truth.append(pr["correct"].to_numpy())
    p_pooled = roc_auc_score(np.concatenate(truth), np.concatenate(preds))

    rows = [
        ("fit wall seconds (median)", f"{h_wall:.2f}", f"{p_wall:.2f}", f"{p_wall / h_wall:.1f}x faster"),
        ("fit log-likelihood (same numpy code)", f"{h_ll:.2f}", f"{p_ll:.2f}", f"{h_ll - p_ll:+.2f}"),
        (f"cv AUC, per-skill mean ({a.folds} folds)", f"{h_cv['auc_skill_mean']:.4f}", f"{p_cv_auc:.4f}",
         f"{h_cv['auc_skill_mean'] - p_cv_auc:+.4f}"),
        (f"cv AUC, pooled ({a.folds} folds)", f"{h_cv['auc']:.4f}", f"{p_pooled:.4f}", f"{h_cv['auc'] - p_pooled:+.4f}"),
        ("cv wall seconds", f"{h_cv_wall:.2f}", f"{p_cv_wall:.2f}", f"{p_cv_wall / h_cv_wall:.1f}x faster"),
    ]
    print(f"{'':42} {'huddle':>14} {'pyBKT':>14}   difference")
    for r in rows:
        print(f"{r[0]:42} {r[1]:>14} {r[2]:>14}   {r[3]}")
    print(json.dumps({"huddle_fit_seconds": h_wall, "pybkt_fit_seconds": p_wall, "speedup": p_wall / h_wall,
                      "huddle_ll": h_ll, "pybkt_ll": p_ll, "huddle_cv_auc": h_cv["auc"],
                      "huddle_cv_auc_skill_mean": h_cv["auc_skill_mean"], "pybkt_cv_auc_skill_mean": p_cv_auc,
                      "pybkt_cv_auc_pooled": p_pooled, "restarts": a.restarts, "folds": a.folds,
                      "fit_runs": [w for _, w in fits], "pybkt_fit_runs": p_walls}))


if __name__ == "__main__":
    main()
