"""Drop the store's rows computed by a dirty tree and add the cache's recomputed ones (GENROB_CACHE=/tmp/redo)."""
import sys
from genrob import evidence
from genrob.evidence import _read_folder, _save, store_dir, outcome_key, provenance
from genrob.results import row_key

profile = "extended"
folder = store_dir(profile)
results, images, outcomes = _read_folder(folder)
dirty = results["code_version"].astype(str).str.endswith("-dirty") & (results["model"] == "gmm")  # the MRF family's would need its cascade again
gone = {outcome_key(r) for r in results[dirty].to_dict("records")}
keep_outcomes = outcomes[[outcome_key(r) not in gone for r in outcomes.to_dict("records")]]
print("dropping", int(dirty.sum()), "rows and", len(outcomes) - len(keep_outcomes), "outcome lines")
_save(folder, results[~dirty], images, keep_outcomes, profile=profile, date=sys.argv[1],
      complete=provenance(profile)["complete_families"])
print("added", evidence.export(profile, date=sys.argv[1]))
