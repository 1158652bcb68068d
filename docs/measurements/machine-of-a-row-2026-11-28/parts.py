"""The five parts of the binary CNN-VAE's randomised AutoAttack run as the store held them before the run was
finished (commit e7836e2^): images, seconds and evaluations of each. Run from the repository root."""
import io
import subprocess

import numpy as np

commit = "e7836e2"
names = subprocess.run(["git", "show", "--name-only", "--format=", commit], capture_output=True, text=True,
                       check=True).stdout.split()
for name in sorted((n for n in names if "/parts/" in n), key=lambda n: int(n.rsplit("-images", 1)[1].split("-")[0])):
    blob = subprocess.run(["git", "show", f"{commit}^:{name}"], capture_output=True, check=True).stdout
    part = np.load(io.BytesIO(blob))
    images = name.rsplit("-images", 1)[1].removesuffix(".npz")
    print(f"images {images:>7}: {float(part['seconds']):7.1f} s, {float(part['seconds']) / len(part['fooled']):5.1f} s "
          f"per image, evaluations (forward, gradient) {part['evaluations'].tolist()}, "
          f"machine {'recorded' if 'machine' in part.files else 'not recorded'}")
