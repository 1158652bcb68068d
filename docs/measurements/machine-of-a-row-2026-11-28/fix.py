"""Name both machines in the `machine` of the one stored row assembled from parts of two machines before parts
recorded theirs (5e37da8): the binary CNN-VAE's randomised AutoAttack at l_inf 0.3 (see README.md).

Run from the repository root: python docs/measurements/machine-of-a-row-2026-11-28/fix.py 2026-11-28
"""
import sys

from genrob.evidence import _read_folder, _save, provenance, store_dir

profile = "extended"
folder = store_dir(profile)
results, images, outcomes = _read_folder(folder)
row = ((results["model"] == "cnn_vae_binary") & (results["attack"] == "autoattack_rand_linf")
       & (results["eps"] == 0.3) & (results["n"] == 200))
assert row.sum() == 1 and results.loc[row, "machine"].item() == "NVIDIA H200", results.loc[row, "machine"]
# In the order of its parts, as genrob.evaluate.machines_of_parts names them: images 0-100 here, 100-200 there.
results.loc[row, "machine"] = "Intel(R) Xeon(R) Processor + NVIDIA H200"
_save(folder, results, images, outcomes, profile=profile, date=sys.argv[1],
      complete=provenance(profile)["complete_families"])
print(results.loc[row, ["model", "attack", "eps", "n", "wall_time_s", "machine", "threads"]].to_string())
