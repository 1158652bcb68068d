"""How strong can gradient PGD at l_2 get on the stored PGD-trained reference? (issue 22 point 6)"""
import sys, time
import numpy as np, pandas as pd, torch
from genrob import evidence
from genrob.attacks import make_attack
from genrob.data import load_mnist
from genrob.models.registry import load_model
from genrob.environment import seed_everything

profile, model_name, eps = "extended", "cnn_adversarial", float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
evidence.restore_weights(profile)
data = load_mnist()
model = load_model(model_name, profile, data=data, device="cpu")
r = pd.read_csv("evidence/extended/results.csv"); o = pd.read_csv("evidence/extended/outcomes.csv", dtype=str)
im = pd.read_csv("evidence/extended/images.csv")
row = r[(r.model == model_name) & (r.attack == "pgd_margin_l2") & (r.eps == eps)].iloc[0]
sub = im[(im.n == row.n) & (im.seed == row.seed)].sort_values("position").test_index.to_numpy()
images = data.test.take(torch.as_tensor(sub))
def stored(attack):
    rr = r[(r.model == model_name) & (r.attack == attack) & (r.eps == eps)].iloc[0]
    oo = o[(o.model == model_name) & (o.attack == attack) & (o.eps.astype(float) == eps) & (o.images == rr.images)].iloc[0]
    return np.array([c == "1" for c in oo.fooled])
clean = np.array([c == "1" for c in o[(o.model == model_name) & (o.attack == "pgd_margin_l2") & (o.eps.astype(float) == eps)].iloc[0].clean_correct])
fab = stored("fab_t_l2"); cw = stored("cw_l2")
print(f"n={len(sub)} clean={clean.mean():.3f}  stored cw_l2 robust={(clean & ~cw).mean():.3f}")
variants = [("pgd_margin_l2", {}), ("pgd_l2", {}), ("pgd_margin_l2", {"steps": 200, "restarts": 4}),
            ("pgd_l2", {"steps": 500}), ("pgd_margin_l2", {"steps": 1000, "restarts": 2}),
            ("pgd_margin_l2", {"steps": 100, "restarts": 20}), ("pgd_margin_l2", {"steps": 1000, "relative_step": 10.0, "restarts": 2})]
for name, over in variants:
    attack = make_attack(name, profile, **over)
    seed_everything(0); t = time.time()
    out = attack.run(model, images.x, images.y, [eps], device=torch.device("cpu"), seed=0)
    robust = out.clean_correct & ~out.fooled[0]
    print(f"{name} {attack.settings}: robust {robust.mean():.3f}; of the images FAB-T broke after every gradient attack "
          f"({int((fab).sum())}), this broke {int((fab & out.fooled[0]).sum())}; {time.time()-t:.0f}s", flush=True)
