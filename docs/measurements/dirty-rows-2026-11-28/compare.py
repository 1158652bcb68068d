"""Each recomputed row of the store's dirty ones (GENROB_CACHE=/tmp/redo) against the store: robust as stored and
as recomputed, images differing, McNemar (genrob.verify.recomputed_against_stored)."""
import pandas as pd
from genrob import evidence
from genrob.evaluate import per_image_path
from genrob.results import read_results, load_per_image
from genrob.verify import recomputed_against_stored

rows, _, stored = evidence.stored_tables("extended")
dirty = rows[rows["code_version"].str.endswith("-dirty")]
now = read_results("extended")
new = now[now["code_version"].isin(["9267e0c667", "a5317b4"]) | now["code_version"].str.startswith("a5317b4")]
out = []
for r in new.to_dict("records"):
    k = evidence.outcome_key(r)
    old_rows = dirty[(dirty.model == r["model"]) & (dirty.attack == r["attack"]) & (dirty.eps.round(10) == round(r["eps"], 10))]
    if old_rows.empty:
        continue
    old = stored[evidence.outcome_key(old_rows.iloc[0].to_dict())]
    b = load_per_image(per_image_path(r))
    same_images = k in stored
    ro, rn = old["clean_correct"] & ~old["fooled"], b["clean_correct"] & ~b["fooled"]
    if same_images:
        p = recomputed_against_stored(rn, ro)
        out.append((r["model"], r["attack"], r["eps"], "same", int(ro.sum()), int(rn.sum()), int((ro != rn).sum()), round(p.p_value, 3)))
    else:
        out.append((r["model"], r["attack"], r["eps"], "other (earlier attack differs)", int(old_rows.iloc[0]["robust_correct"]), int(r["robust_correct"]), None, None))
t = pd.DataFrame(out, columns=["model", "attack", "eps", "images met", "robust stored", "robust recomputed", "differ", "McNemar p"])
pd.set_option("display.width", 200); pd.set_option("display.max_rows", 200)
print(t.sort_values(["model", "attack", "eps"]).to_string(index=False))
print("rows", len(t), "identical", int((t.differ == 0).sum()), "p < 0.05:", int((t["McNemar p"] < 0.05).sum()))
