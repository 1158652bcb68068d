"""Recompute a sample of the `extended` store's gradient-attack cells on the binary and CRF CNN-VAEs twice on
this machine, with the gradients scaled (``python reverify.py scaled``) and without (``... unscaled``, the pass
before issue 51), on the first 100 images of each cell (50 for C&W and EOT-PGD), and write each image's
outcome, one JSON line per cell: the two runs must agree image for image. The stored outcomes are compared too,
for what it is worth: a subset meets other random starts, and the rows were computed on other CPUs.

    GENROB_DATA=... GENROB_STORE_ONLY=1 GENROB_THREADS=1 GENROB_CACHE=/tmp/rv-scaled \
        python docs/measurements/subnormals-2026-12-07/reverify.py scaled > reverify-scaled.jsonl
"""
import sys, time, json
import numpy as np, pandas as pd, torch
from genrob import evidence, verify
from genrob.attacks import attack_config_hash, make_attack
from genrob.data import load_mnist
from genrob.environment import machine, thread_count, torch_device
from genrob.models import get_spec, gradient_scale
from genrob.results import EVERY_IMAGE

SAMPLE = [("cnn_vae_crf", "fgsm_linf", 0.1), ("cnn_vae_crf", "fgm_l2", 1.0), ("cnn_vae_crf", "pgd_margin_l2", 3.0),
          ("cnn_vae_binary", "pgd_margin_l2", 3.0), ("cnn_vae_crf", "pgd_linf", 0.2), ("cnn_vae_binary", "pgd_linf", 0.1),
          ("cnn_vae_binary", "pgd_margin_linf", 0.3), ("cnn_vae_crf", "pgd_margin_linf", 0.3),
          ("cnn_vae_crf", "pgd_l2", 1.0), ("cnn_vae_binary", "pgd_l2", 1.0), ("cnn_vae_crf", "eot_pgd_linf", 0.1),
          ("cnn_vae_binary", "cw_l2", 1.0), ("cnn_vae_crf", "cw_l2", 1.0), ("cnn_vae_binary", "eot_pgd_linf", 0.1)]
scaled = {"scaled": True, "unscaled": False}[sys.argv[1]]
if not scaled:
    gradient_scale.applies = lambda model: False
profile = "extended"
evidence.restore_weights(profile)
data = load_mnist()
results, subsets, outcomes = evidence.stored_tables(profile)
here = machine(torch.device("cpu"))
for model, attack, eps in SAMPLE:
    rows = results[(results.model == model) & (results.attack == attack) & (results.eps == eps)
                   & (results.images == EVERY_IMAGE)]
    if rows.empty:
        print(json.dumps({"model": model, "attack": attack, "eps": eps, "note": "no row from this machine"}), flush=True)
        continue
    row = rows.iloc[-1]
    same = (row["model_config"] == get_spec(model).config_hash(profile)
            and row["attack_config"] == attack_config_hash(make_attack(attack, profile)))
    stored = outcomes[evidence.outcome_key(row)]
    take = 50 if attack in ("cw_l2", "eot_pgd_linf") else 100
    subset = evidence.subset_images(subsets, n=int(row["n"]), seed=int(row["seed"]))[:take]
    stored = {k: stored[k][:take] for k in ("clean_correct", "fooled")}
    cell = verify.Cell(model=model, attack=attack, eps=eps, row=row, test_index=subset,
                       clean_correct=stored["clean_correct"], fooled=stored["fooled"])
    started = time.perf_counter()
    clean, fooled = verify._recomputed(cell, profile, data, torch.device("cpu"))
    differ = np.flatnonzero((clean != stored["clean_correct"]) | (fooled != stored["fooled"]))
    print(json.dumps({"model": model, "attack": attack, "eps": eps, "n": int(row["n"]), "scaled": scaled,
                      "same_configuration": bool(same), "stored_code": row["code_version"], "threads": thread_count(),
                      "stored_threads": int(row["threads"]), "stored_robust": int((stored["clean_correct"] & ~stored["fooled"]).sum()),
                      "recomputed_robust": int((clean & ~fooled).sum()), "images_differ_from_stored": differ.tolist(), "stored_on": row["machine"],
                      "fooled": np.flatnonzero(fooled).tolist(), "clean": np.flatnonzero(clean).tolist(),
                      "seconds": round(time.perf_counter() - started, 1), "stored_seconds": float(row["wall_time_s"])}), flush=True)
