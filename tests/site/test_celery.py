"""A round trip through a real worker process, on each broker."""

import pytest
from celery import Celery

from tests.support import clean_dir, need_redis, running_worker, subprocess_env

pytestmark = pytest.mark.worker


def test_round_trip_filesystem_broker(tmp_path):
    broker = tmp_path / "broker"
    for sub in ("queue", "processed", "results", "control"):
        clean_dir(broker / sub)
    env = subprocess_env(redis_url=None, extra={"ATELIER_BROKER_DIR": str(broker)})
    client = Celery(broker="filesystem://", backend=f"file://{broker / 'results'}")
    client.conf.broker_transport_options = {"data_folder_in": str(broker / "queue"),
                                            "data_folder_out": str(broker / "queue"),
                                            "processed_folder": str(broker / "processed"),
                                            "control_folder": str(broker / "control")}
    with running_worker(env=env, name="fs", tmp_path=tmp_path):
        result = client.send_task("atelier.ping", args=["through the filesystem"])
        assert result.get(timeout=60) == "through the filesystem"


def test_round_trip_redis_broker(tmp_path):
    url = need_redis()
    client = Celery(broker=url, backend=url)
    with running_worker(env=subprocess_env(redis_url=url), name="redis", tmp_path=tmp_path):
        result = client.send_task("atelier.ping", args=["through redis"])
        assert result.get(timeout=60) == "through redis"
