#!/bin/bash
#SBATCH --job-name=ps1-s20-c3-k3
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
#SBATCH --mem=2G
#SBATCH --time=12:00:00
#SBATCH --output=ps1-%A_%a.out
#SBATCH --error=ps1-%A_%a.err
#
# One share of a TESS sector/camera/CCD's PS1 skycells per array task, all into one Zarr store.
# Submit from the toolkit's checkout (the job runs download_and_store_zarr.ts from the submit dir):
#
#   sbatch scripts/slurm_download.sh [ZARR_OUTPUT_DIR [ARCHIVE_URL [SHARDS]]]
#
# Each argument, when absent, comes from the environment, else the default:
#   ZARR_OUTPUT_DIR  $PS1_ZARR_OUTPUT_DIR  /scratch/ps1/ps1_skycells_zarr (its parent holds the mapping CSV)
#   ARCHIVE_URL      $PS1_ARCHIVE_URL      http://ps1images.stsci.edu/rings.v3.skycell
#   SHARDS           $PS1_SHARDS           8; submit with --array=0-(SHARDS-1)
# Also PS1_SECTOR, PS1_CAMERA, PS1_CCD (20 3 3), PS1_LOG_LEVEL (WARNING), PS1_TOOLKIT_DIR (the submit dir)
# and DENO (deno). stdout (ps1-JOB_TASK.out) is the share's result as JSON, stderr (.err) its log.
# A failed task can simply be resubmitted (sbatch --array=K ...): it fetches only what is missing.
set -euo pipefail

out=${1:-${PS1_ZARR_OUTPUT_DIR:-/scratch/ps1/ps1_skycells_zarr}}
url=${2:-${PS1_ARCHIVE_URL:-http://ps1images.stsci.edu/rings.v3.skycell}}
shards=${3:-${PS1_SHARDS:-8}}
task=${SLURM_ARRAY_TASK_ID:?run as a Slurm array job: sbatch --array=0-$((shards - 1)) $0}
if ! [[ $shards =~ ^[1-9][0-9]*$ && $task =~ ^[0-9]+$ ]] || [ "$task" -ge "$shards" ]; then
  echo "slurm_download.sh: array task $task is not a share of $shards (use --array=0-$((shards - 1)))" >&2
  exit 2
fi
host=${url#*://}
host=${host%%/*}
cd "${PS1_TOOLKIT_DIR:-${SLURM_SUBMIT_DIR:-.}}"
exec "${DENO:-deno}" run --allow-read --allow-write="$(dirname "$out")" --allow-env=PS1_ARCHIVE_URL \
  --allow-net="$host" download_and_store_zarr.ts "${PS1_SECTOR:-20}" "${PS1_CAMERA:-3}" "${PS1_CCD:-3}" \
  --zarr-output-dir "$out" --archive-url "$url" --shard "$task/$shards" --max-connections 2 \
  --log-level "${PS1_LOG_LEVEL:-WARNING}" --json
