"""What the platform asks of its broker (platform/queues.py); test_long_runs.py proves it on Redis
and RabbitMQ with their timeouts shortened."""

from __future__ import annotations

from pathlib import Path

from sanacloud.platform.queues import INFER_TASK, TICK_TASK, TRAIN_TASK, celery_config
from sanacloud.platform.settings import Settings


def test_a_training_message_is_acknowledged_on_receipt_the_others_when_done(tmp_path: Path) -> None:
    from sanacloud.workers.celery_app import make_celery

    app = make_celery(Settings(data_dir=tmp_path))
    app.loader.import_default_modules()
    assert app.tasks[TRAIN_TASK].acks_late is False
    assert app.tasks[INFER_TASK].acks_late is True and app.tasks[TICK_TASK].acks_late is True


def test_redis_gets_its_visibility_timeout_and_key_prefix_and_amqp_no_heartbeats(tmp_path: Path) -> None:
    redis = celery_config(Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:6379/0",
                                   broker_visibility_timeout_s=7, broker_key_prefix="run-1:"))
    assert redis["broker_transport_options"] == {"visibility_timeout": 7, "global_keyprefix": "run-1:"}
    amqp = celery_config(Settings(data_dir=tmp_path, broker_url="amqp://guest:guest@127.0.0.1:5672//"))
    assert amqp["broker_transport_options"] == {} and amqp["broker_heartbeat"] == 0
