"""Exports travel with checkpoints: S3-compatible storage_path, and a two-node cluster."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from exportable_trainers import list_exports, load_policy, make_exporting
from exportable_trainers.contract.manifest import check_files, read_manifest
from tests.configs import ppo_config
from tests.tuning import fit

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def s3(tmp_path):
    """An S3-compatible server (moto) on 127.0.0.1 with an empty bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket="exports")
    yield port
    server.stop()


def test_tune_with_s3_storage_uploads_every_export(ray_session, s3, tmp_path):
    import pyarrow.fs
    from ray.rllib.algorithms.ppo import PPO

    filesystem = pyarrow.fs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        endpoint_override=f"127.0.0.1:{s3}",
        scheme="http",
        region="us-east-1",
    )
    fit(
        make_exporting(PPO),
        ppo_config("CartPole-v1"),
        "exports/experiments",
        3,
        name="s3run",
        storage_filesystem=filesystem,
    )
    selector = pyarrow.fs.FileSelector("exports/experiments/s3run", recursive=True)
    manifests = [
        f.path for f in filesystem.get_file_info(selector) if f.path.endswith("manifest.json")
    ]
    assert len(manifests) == 3, manifests
    local = tmp_path / "download"
    pyarrow.fs.copy_files("exports/experiments/s3run", str(local), source_filesystem=filesystem)
    entries = list_exports(local)
    assert [e.training_iteration for e in entries] == [1, 2, 3]
    for entry in entries:
        export_dir = entry.policies["default_policy"].export_dir
        check_files(export_dir, read_manifest(export_dir))
        assert load_policy(entry.checkpoint).compute_action(np.zeros(4, np.float32)) in (0, 1)


TWO_NODES = """
import json, sys
import ray
from ray import tune
from ray.cluster_utils import Cluster
from ray.rllib.algorithms.ppo import PPO
from exportable_trainers import make_exporting
from tests.configs import ppo_config
from tests.tuning import fit

def record_node(*, result, **kwargs):
    result["node_id"] = ray.get_runtime_context().get_node_id()

cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
worker = cluster.add_node(num_cpus=2)
ray.init(address=cluster.address, log_to_driver=False)
head_id = ray.get_runtime_context().get_node_id()
config = ppo_config("CartPole-v1").callbacks(on_train_result=record_node)
result = fit(make_exporting(PPO), config, sys.argv[1], 2)
print("NODES", json.dumps({"head": head_id, "trial": result.metrics["node_id"], "path": result.path}))
ray.shutdown()
cluster.shutdown()
"""


def test_two_node_cluster_trial_off_the_head_node_delivers_exports(tmp_path):
    import json

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(TWO_NODES), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    nodes = json.loads(out.stdout.split("NODES ", 1)[1].splitlines()[0])
    assert nodes["trial"] != nodes["head"], "the trial ran on the head node"
    entries = list_exports(nodes["path"])
    assert [e.training_iteration for e in entries] == [1, 2]
    for entry in entries:
        assert entry.policies["default_policy"].status == "ok"
        load_policy(entry.checkpoint).compute_action(np.zeros(4, np.float32))
