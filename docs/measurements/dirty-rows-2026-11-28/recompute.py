"""Resume the recomputation of the store's dirty rows (GENROB_CACHE=/tmp/redo), the MRF family's cascade only
if every recomputed complete row of it is identical to the store's (else its clean cascade rows would go stale)."""
import dataclasses
import numpy as np
from genrob import adaptive, campaign, evaluate, evidence
from genrob.data import load_mnist
from genrob.environment import code_version
from genrob.evaluate import per_image_path
from genrob.models.registry import load_model
from genrob.results import read_results, results_path, load_per_image

profile = "extended"
print("restored", evidence.restore(profile), flush=True)
table = read_results(profile)
dirty = table["code_version"].astype(str).str.endswith("-dirty")
for r in table[dirty].to_dict("records"):
    per_image_path(r).unlink()
table[~dirty].to_csv(results_path(profile), index=False)
stored_rows, _, stored = evidence.stored_tables(profile)
dirty_keys = {evidence.outcome_key(r) for r in stored_rows[stored_rows["code_version"].str.endswith("-dirty")].to_dict("records")}
data = load_mnist()

def compare(models):
    now = read_results(profile)
    mine = now[(now["code_version"] == code_version()) & now["model"].isin(models)]
    differ = 0
    for r in mine.to_dict("records"):
        k = evidence.outcome_key(r)
        if k not in stored:
            print("NEW KEY", r["model"], r["attack"], r["eps"], r["images"], flush=True); differ += 1; continue
        a, b = stored[k], load_per_image(per_image_path(r))
        same = all(np.array_equal(a[x], b[x]) for x in ("clean_correct", "fooled"))
        if not same:
            differ += 1
            print("DIFFERS", r["model"], r["attack"], r["eps"], int((a["fooled"] != b["fooled"]).sum()), "images", flush=True)
    print(f"{models}: {len(mine)} recomputed rows, {differ} differ or are new; dirty keys not recomputed:",
          sorted((k[0], k[1], k[2]) for k in dirty_keys if k[0] in models and k not in
                 {evidence.outcome_key(r) for r in mine.to_dict("records")}), flush=True)
    return differ

adaptive.evaluate_family("mixture", profile=profile, data=data)
compare(["gmm"])
for config in campaign.chapter_configs("markov_random_field", profile):
    for model in config.models:
        if model in ("mrf", "cnn_mrf"):
            load_model(model, profile, data=data)
            for attack in config.attacks:
                evaluate.sweep(dataclasses.replace(config, models=(model,), attacks=(attack,)), data=data)
if compare(["mrf", "cnn_mrf"]) == 0:
    adaptive.evaluate_family("markov_random_field", profile=profile, data=data)
    compare(["mrf", "cnn_mrf"])
    print("MRF family complete", flush=True)
else:
    print("MRF rows differ: its cascade not recomputed", flush=True)
