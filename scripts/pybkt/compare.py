"""Runs `huddle kt` and pyBKT (C++ engine) side by side on one CSV and writes a table.

Usage: python compare.py --csv FILE[.gz] --huddle PATH [--restarts 5] [--folds 5] [--out TABLE.md]

The CSV has the columns student_id, skill_id, correct, order (what `huddle kt` reads).
Both tools are treated alike:
- fit time: wall time of `huddle kt fit --bootstrap 0` (whole process, CSV parsing
  included; median of --runs) and of pyBKT's `Model.fit` (data preparation included; median
  of --pybkt-runs), run alternately, both with --restarts random starts (pyBKT `num_fits`)
  and all cores (huddle's threads; pyBKT's OpenMP E-step, OMP_NUM_THREADS unset);
- log-likelihood per skill: both fitted parameter sets scored on all rows by the same exact
  numpy forward pass (log space, both states kept);
- held-out accuracy: one student split into --folds folds (seeded here); on each fold both
  tools are fitted on the other folds' rows and predict the fold's rows one step ahead
  (`huddle kt predict`, pyBKT `Model.predict`); the predictions of all folds are pooled and
  scored by one scorer (scikit-learn's AUC, RMSE) on the rows both predicted.
"""
import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def exact_log_likelihood(df, params):
    """Per skill: ln P(answers) under `params[skill]`, by a log-space forward pass."""
    out = {}
    for skill, g in df.groupby("skill_id", sort=True):
        if skill not in params:
            continue
        p = params[skill]
        pos = g.groupby("student_id", sort=False).cumcount().to_numpy()
        stu = pd.factorize(g["student_id"])[0]
        obs = np.zeros((stu.max() + 1, pos.max() + 1))
        mask = np.zeros_like(obs, dtype=bool)
        obs[stu, pos] = g["correct"].to_numpy()
        mask[stu, pos] = True
        with np.errstate(divide="ignore"):
            lk = np.full(obs.shape[0], np.log(p["prior"]))
            lu = np.full(obs.shape[0], np.log1p(-p["prior"]))
            ln = {k: np.log(v) for k, v in [("l", p["learn"]), ("nl", 1 - p["learn"]),
                                             ("f", p["forget"]), ("nf", 1 - p["forget"])]}
        total = 0.0
        for t in range(obs.shape[1]):
            o, m = obs[:, t], mask[:, t]
            ek = np.where(o == 1, np.log1p(-p["slip"]), np.log(p["slip"]))
            eu = np.where(o == 1, np.log(p["guess"]), np.log1p(-p["guess"]))
            k, u = lk + ek, lu + eu
            norm = np.logaddexp(k, u)
            total += norm[m].sum()
            k, u = k - norm, u - norm
            nk = np.logaddexp(k + ln["nf"], u + ln["l"])
            nu = np.logaddexp(k + ln["f"], u + ln["nl"])
            lk, lu = np.where(m, nk, lk), np.where(m, nu, lu)
        out[skill] = float(total)
    return out


def huddle(exe, args, capture=True):
    t = time.perf_counter()
    r = subprocess.run([exe, "kt", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"huddle kt {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout, time.perf_counter() - t


def pybkt_params(model):
    return {skill: {"prior": float(m["prior"]), "learn": float(m["learns"][0]),
                    "guess": float(m["guesses"][0]), "slip": float(m["slips"][0]),
                    "forget": float(m["forgets"][0])}
            for skill, m in model.fit_model.items()}


def renamed(df):
    return df.rename(columns={"student_id": "user_id", "skill_id": "skill_name", "order": "order_id"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--huddle", required=True)
    ap.add_argument("--restarts", type=int, default=5)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3, help="timed huddle fits (median kept)")
    ap.add_argument("--pybkt-runs", type=int, default=3, help="timed pyBKT fits (median kept)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", help="also write the table (Markdown) here")
    ap.add_argument("--huddle-flags", default="", help="extra flags for huddle kt fit")
    a = ap.parse_args()

    from pyBKT.models import Model
    import pyBKT.fit.E_step  # noqa: F401  (fails if only the slow pure-Python engine is installed)

    df = pd.read_csv(a.csv, dtype={"student_id": str, "skill_id": str})
    df = df.sort_values(["student_id", "skill_id", "order"], kind="mergesort").reset_index(drop=True)
    df["opportunity"] = df.groupby(["student_id", "skill_id"], sort=False).cumcount() + 1
    work = tempfile.mkdtemp(prefix="kt-compare-")
    cols = ["student_id", "skill_id", "correct", "order"]
    all_csv = os.path.join(work, "all.csv")
    df[cols].to_csv(all_csv, index=False)
    extra = a.huddle_flags.split()
    common = ["--restarts", str(a.restarts), "--seed", str(a.seed), "--bootstrap", "0", *extra]
    header = (f"rows {len(df)}, skills {df.skill_id.nunique()}, students {df.student_id.nunique()}, "
              f"restarts {a.restarts}, folds {a.folds}, nproc {os.cpu_count()}, "
              f"OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(header, flush=True)

    # --- fit on all rows: time and parameters, the two tools alternating (the machine's
    # load changes over minutes; alternating exposes both to it alike)
    fits, p_walls = [], []
    for k in range(max(a.runs, a.pybkt_runs)):
        if k < a.runs:
            fits.append(huddle(a.huddle, ["fit", "--csv", all_csv, *common]))
        if k < a.pybkt_runs:
            model = Model(seed=a.seed, num_fits=a.restarts, parallel=True)
            t = time.perf_counter()
            model.fit(data=renamed(df[cols]))
            p_walls.append(time.perf_counter() - t)
        print(f"run {k + 1}: huddle {[round(w, 3) for _, w in fits]}, pyBKT "
              f"{[round(w, 3) for w in p_walls]}", flush=True)
    h_fit = json.loads(fits[0][0])
    h_wall = statistics.median(w for _, w in fits)
    h_params = h_fit["skills"]
    p_wall = statistics.median(p_walls)
    p_params = pybkt_params(model)
    print(f"fit: huddle {h_wall:.2f}s, pyBKT {p_wall:.2f}s", flush=True)

    h_ll = exact_log_likelihood(df, h_params)
    p_ll = exact_log_likelihood(df, p_params)
    both = sorted(set(h_ll) & set(p_ll))
    diff = {s: h_ll[s] - p_ll[s] for s in both}
    at_least = sum(d >= -1e-3 for d in diff.values())
    em = {s for s, v in h_params.items() if v.get("method", "em") == "em"}
    em_both = [s for s in both if s in em]
    at_least_em = sum(diff[s] >= -1e-3 for s in em_both)
    pybkt_g_ge_half = sum(p["guess"] >= 0.5 for p in p_params.values())
    pybkt_invalid = sum(p["guess"] + p["slip"] >= 1 for p in p_params.values())
    # The identifiability constraint (guess + slip <= 0.98): where it binds, and what it costs.
    binds = [s for s in both if h_params[s]["guess"] + h_params[s]["slip"] >= 0.98 - 1e-9]
    binds_cost = sum(diff[s] for s in binds)
    print(f"log-likelihood: huddle {sum(h_ll.values()):.1f}, pyBKT {sum(p_ll.values()):.1f}; "
          f"skills ≥ pyBKT: {at_least} of {len(both)} (EM-fitted: {at_least_em} of {len(em_both)}); "
          f"pyBKT guess ≥ 0.5: {pybkt_g_ge_half}, guess + slip ≥ 1: {pybkt_invalid}", flush=True)

    # --- one shared student split, one scorer
    students = np.array(sorted(df.student_id.unique()))
    rng = np.random.RandomState(a.seed)
    fold_of = dict(zip(rng.permutation(students), np.arange(len(students)) % a.folds))
    df["fold"] = df.student_id.map(fold_of)
    key = ["student_id", "skill_id", "opportunity"]
    scored = []
    for f in range(a.folds):
        train, test = df[df.fold != f], df[df.fold == f]
        tr, te = os.path.join(work, f"train{f}.csv"), os.path.join(work, f"test{f}.csv")
        train[cols].to_csv(tr, index=False)
        test[cols].to_csv(te, index=False)
        out, _ = huddle(a.huddle, ["fit", "--csv", tr, *common])
        params = os.path.join(work, f"fit{f}.json")
        with open(params, "w") as fh:
            fh.write(out)
        out, _ = huddle(a.huddle, ["predict", "--csv", te, "--params", params])
        hp = pd.read_csv(io.StringIO(out), dtype={"student_id": str, "skill_id": str})
        hp = hp.rename(columns={"p_correct": "huddle"})[key + ["huddle"]]
        m = Model(seed=a.seed, num_fits=a.restarts, parallel=True)
        m.fit(data=renamed(train[cols]))
        known = test[test.skill_id.isin(set(m.fit_model))]
        pr = m.predict(data=renamed(known[cols]))
        pp = known[key].copy()
        # pyBKT returns the rows re-sorted (by order, then student) under their original labels.
        pp["pybkt"] = pr["correct_predictions"].reindex(known.index).to_numpy()
        merged = test[key + ["correct"]].merge(hp, on=key, how="left").merge(pp, on=key, how="left")
        scored.append(merged)
        print(f"fold {f} done", flush=True)
    s = pd.concat(scored)
    common_rows = s.dropna(subset=["huddle", "pybkt"])
    y = common_rows.correct.to_numpy()

    def rmse(p):
        return float(np.sqrt(np.mean((p - y) ** 2)))

    def skill_mean_auc(col):
        aucs = [roc_auc_score(g.correct, g[col]) for _, g in common_rows.groupby("skill_id")
                if g.correct.nunique() == 2]
        return float(np.mean(aucs))

    small = {sk for sk, v in h_params.items() if v.get("method", "em") != "em"}
    small_rows = common_rows[common_rows.skill_id.isin(small)]

    def small_auc(col):
        if small_rows.correct.nunique() < 2:
            return float("nan")
        return roc_auc_score(small_rows.correct, small_rows[col])

    res = {
        "huddle_fit_seconds": h_wall, "pybkt_fit_seconds": p_wall, "speedup": p_wall / h_wall,
        "huddle_ll": sum(h_ll.values()), "pybkt_ll": sum(p_ll[k] for k in h_ll if k in p_ll),
        "skills": len(both), "skills_ll_at_least_pybkt": at_least,
        "em_skills": len(em_both), "em_skills_ll_at_least_pybkt": at_least_em,
        "pybkt_guess_ge_half": pybkt_g_ge_half, "pybkt_guess_plus_slip_ge_1": pybkt_invalid,
        "huddle_guess_ge_half": sum(h_params[s]["guess"] >= 0.5 for s in both),
        "constraint_binds": len(binds), "constraint_ll_cost": binds_cost,
        "rows_scored": len(common_rows), "rows_test": len(s),
        "huddle_auc": roc_auc_score(y, common_rows.huddle), "pybkt_auc": roc_auc_score(y, common_rows.pybkt),
        "huddle_rmse": rmse(common_rows.huddle.to_numpy()), "pybkt_rmse": rmse(common_rows.pybkt.to_numpy()),
        "huddle_auc_skill_mean": skill_mean_auc("huddle"), "pybkt_auc_skill_mean": skill_mean_auc("pybkt"),
        "small_skill_rows": len(small_rows), "huddle_small_auc": small_auc("huddle"),
        "pybkt_small_auc": small_auc("pybkt"),
        "restarts": a.restarts, "folds": a.folds, "huddle_fit_runs": [w for _, w in fits],
        "pybkt_fit_runs": p_walls, "huddle_flags": common,
    }
    worst = sorted(diff.items(), key=lambda kv: kv[1])[:5]
    lines = [
        f"`{os.path.basename(a.csv)}`: {header}",
        "",
        "| | huddle | pyBKT 1.4.3 | difference |",
        "|---|---:|---:|---:|",
        f"| fit wall seconds | {h_wall:.2f} | {p_wall:.2f} | {p_wall / h_wall:.1f}× faster |",
        f"| log-likelihood, all skills (one exact scorer) | {res['huddle_ll']:.1f} | {res['pybkt_ll']:.1f} | "
        f"{res['huddle_ll'] - res['pybkt_ll']:+.1f} |",
        f"| skills with log-likelihood ≥ pyBKT's (−0.001) | {at_least} of {len(both)} | | "
        f"{100 * at_least / max(len(both), 1):.1f}% |",
        f"| ... of the skills huddle fits by EM | {at_least_em} of {len(em_both)} | | "
        f"{100 * at_least_em / max(len(em_both), 1):.1f}% |",
        f"| held-out AUC, pooled ({a.folds} shared folds) | {res['huddle_auc']:.4f} | {res['pybkt_auc']:.4f} | "
        f"{res['huddle_auc'] - res['pybkt_auc']:+.4f} |",
        f"| held-out RMSE, pooled | {res['huddle_rmse']:.4f} | {res['pybkt_rmse']:.4f} | "
        f"{res['huddle_rmse'] - res['pybkt_rmse']:+.4f} |",
        f"| held-out AUC, per-skill mean | {res['huddle_auc_skill_mean']:.4f} | {res['pybkt_auc_skill_mean']:.4f} | "
        f"{res['huddle_auc_skill_mean'] - res['pybkt_auc_skill_mean']:+.4f} |",
        f"| held-out AUC on the {len(small)} small skills ({len(small_rows)} rows) | {res['huddle_small_auc']:.4f} | "
        f"{res['pybkt_small_auc']:.4f} | {res['huddle_small_auc'] - res['pybkt_small_auc']:+.4f} |",
        "",
        f"Rows scored: {len(common_rows)} of {len(s)} held-out rows (pyBKT cannot predict a skill absent "
        f"from its training folds). pyBKT fitted guess ≥ 0.5 on {pybkt_g_ge_half} skills and "
        f"guess + slip ≥ 1 on {pybkt_invalid}; huddle fitted guess ≥ 0.5 on {res['huddle_guess_ge_half']}, and "
        f"its constraint guess + slip ≤ 0.98 binds on {len(binds)} skills, where its log-likelihood is "
        f"{binds_cost:+.2f} against pyBKT's in total. Largest log-likelihood shortfalls (skill: huddle − pyBKT): "
        + ", ".join(f"{k}: {v:+.2f}" for k, v in worst) + ".",
    ]
    table = "\n".join(lines)
    print(table)
    print(json.dumps(res))
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(table + "\n\n" + json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
