# Issue 22 point 7 on the GPU: latency per batch with the chunk fix, then the conv VAEs' adaptive throughput.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
export GENROB_DATA=$PWD/.gpu/mnist GENROB_CACHE=/tmp/cache GENROB_THREADS=8
mkdir -p /tmp/cache && cp -r .gpu/checkpoints /tmp/cache/
nvidia-smi -L; python3 -c "import torch; print(torch.__version__, torch.cuda.is_available())"
git log -1 --format=%h 2>/dev/null
start=$(date +%s)
[ "${SKIP_LATENCY:-}" ] || timeout 90 python3 docs/measurements/gpu-2026-11-27/latency.py 1,30,200,1000 cnn_vae,cnn_vae_binary,cnn_vae_crf,cnn > $OUT/h200-latency-chunks.txt 2>&1
cat $OUT/h200-latency-chunks.txt
used=$(( $(date +%s) - start ))
within=$(( ${WITHIN:-480} - used ))
echo "latency took $used s; throughput within $within s"
timeout $(( within + 20 )) python3 -m genrob throughput conv_vae --profile default --models cnn_vae cnn_vae_binary cnn_vae_crf --first ${FIRST:-30} --seconds 300 --within $within --out $OUT/throughput > $OUT/throughput-stdout.txt 2> $OUT/throughput-stderr.txt
echo "throughput exit $?, total $(( $(date +%s) - start )) s"
cat $OUT/throughput-stdout.txt
tr '\r' '\n' < $OUT/throughput-stderr.txt | grep -a -v "it/s\]$\|img/s\]$" | tail -40
(cd /tmp/cache && tar czf $OUT/cache-results.tgz results 2>/dev/null)
ls -la $OUT $OUT/throughput
