"""Score a large folder with Assay on a Ray cluster, then merge the shards.

Each Ray task runs `assay scan ROOT --shard I/N` (one shard = one task, a GPU each with
--gpus-per-task) into an SQLite file on the worker's local disk, copies it to --out-dir, and
the driver runs `assay merge` over the shard catalogues. Ray only schedules processes here:
it is not a dependency of Assay. See README.md.
"""

import argparse
import os
import sqlite3
import subprocess
import tempfile

import ray


def scan_shard(batch, *, assay, root, shards, out_dir, extra):
    """Ray Data batch function: one shard per row (`id` 0..N-1 -> shard id+1 of N)."""
    written = []
    for i in batch["id"]:
        shard = f"{int(i) + 1}/{shards}"
        name = f"shard-{int(i) + 1}-of-{shards}.db"
        with tempfile.TemporaryDirectory() as tmp:
            local = os.path.join(tmp, name)  # SQLite on local disk, not on the share
            cmd = [assay, "scan", root, "--shard", shard, "--db", local,
                   "--backups", "0", "--format", "json", "-q", *extra]
            run = subprocess.run(cmd, capture_output=True, text=True)
            # 0: done; 2: some files could not be read (listed in the summary, stored as rows).
            if run.returncode not in (0, 2):
                raise RuntimeError(f"{' '.join(cmd)} exited {run.returncode}: {run.stderr}")
            dest = os.path.join(out_dir, name)
            # A consistent copy (WAL included) with SQLite's online backup.
            with sqlite3.connect(local) as src, sqlite3.connect(dest) as dst:
                src.backup(dst)
        written.append(dest)
    return {"db": written}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", help="collection folder, mounted at this path on every worker")
    p.add_argument("--shards", type=int, required=True, help="N: number of shard tasks")
    p.add_argument("--out-dir", required=True,
                   help="shared folder the workers copy their shard catalogues to")
    p.add_argument("--merged", help="merged catalogue (default: ROOT/.assay/assay.db)")
    p.add_argument("--assay", default="assay", help="assay binary on the workers and driver")
    p.add_argument("--gpus-per-task", type=float, default=0,
                   help="GPUs per shard task (1 on GPU workers; assay uses it through wgpu)")
    p.add_argument("--cpus-per-task", type=float, default=1)
    p.add_argument("scan_args", nargs="*",
                   help="extra `assay scan` flags after --, e.g. -- --no-faces --models /m")
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)

    ray.init()
    ds = ray.data.range(a.shards, override_num_blocks=a.shards).map_batches(
        scan_shard,
        batch_size=1,
        num_gpus=a.gpus_per_task,
        num_cpus=a.cpus_per_task,
        fn_kwargs=dict(assay=a.assay, root=a.root, shards=a.shards,
                       out_dir=a.out_dir, extra=a.scan_args),
    )
    dbs = sorted(row["db"] for row in ds.take_all())

    merged = a.merged or a.root  # a folder: its .assay/assay.db
    run = subprocess.run([a.assay, "merge", merged, *dbs])
    # 2: conflicts (printed above); the merged catalogue is still written.
    raise SystemExit(run.returncode)


if __name__ == "__main__":
    main()
