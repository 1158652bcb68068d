"""reverify-scaled.jsonl against reverify-unscaled.jsonl, cell by cell: the same images fooled and classified
correctly? (Run from the repository root.)"""

import json
from pathlib import Path

FOLDER = Path(__file__).parent
runs = {}
for mode in ("scaled", "unscaled"):
    for line in (FOLDER / f"reverify-{mode}.jsonl").read_text().splitlines():
        cell = json.loads(line)
        runs.setdefault((cell["model"], cell["attack"], cell["eps"]), {})[mode] = cell
identical = outcomes = 0
for (model, attack, eps), pair in runs.items():
    scaled, unscaled = pair["scaled"], pair["unscaled"]
    same = scaled["fooled"] == unscaled["fooled"] and scaled["clean"] == unscaled["clean"]
    identical += same
    outcomes += len(scaled["clean"])
    print(f"{model} {attack} eps {eps}: {len(scaled['clean'])} images classified correctly, "
          f"{'identical' if same else 'DIFFERENT'} outcomes, robust {scaled['recomputed_robust']} both ways "
          if same else f"{model} {attack} eps {eps}: DIFFERENT", f"(stored: {scaled['stored_robust']}); "
          f"{unscaled['seconds']:.0f} s unscaled, {scaled['seconds']:.0f} s scaled")
print(f"{identical} of {len(runs)} cells identical, image for image ({outcomes} images classified correctly and attacked)")
