"""The model-export consumer: merges an adapter into its base (``llamafactory-cli export``)."""

from __future__ import annotations

from pathlib import Path

from events import Event
from events.training import (
    ExportCompleted,
    ExportCompletedData,
    ExportFailed,
    ExportFailedData,
    ExportRequested,
)
from runtime.bus import Consumer
from runtime.services import Services
from trainer.export import ExportSpec, merge
from trainer.process import cli_path


def export_consumer(services: Services) -> Consumer:
    settings = services.settings.training

    async def export(event: Event) -> None:
        if not isinstance(event, ExportRequested):
            return
        d = event.data
        ids = {
            "export_id": d.export_id,
            "model_config_id": d.model_config_id,
            "owner_id": d.owner_id,
        }
        target = Path(d.export_dir)
        if (target / "config.json").is_file():  # redelivered after it was done
            result_ok, seconds, tail = True, 0.0, []
        else:
            spec = ExportSpec(d.base_model_path, d.adapter_path, d.template, target)
            result = await merge(
                spec,
                cli=cli_path(settings.cli),
                grace=settings.stop_grace_seconds,
                cpu_threads=settings.cpu_threads,
            )
            result_ok, seconds, tail = result.ok, result.seconds, result.tail
        if result_ok:
            data = ExportCompletedData(
                **ids,
                export_dir=str(target),
                alias=d.alias,
                template=d.template,
                duration_seconds=round(seconds, 3),
            )
            await services.bus.publish(ExportCompleted(subject=d.export_id, data=data))
        else:
            error = tail[-1] if tail else "llamafactory-cli export failed"
            failed = ExportFailedData(**ids, error=error, log_tail=tail)
            await services.bus.publish(ExportFailed(subject=d.export_id, data=failed))

    return Consumer(
        name="model-export",
        subjects=[ExportRequested.SUBJECT.format(subject="*")],
        handler=export,
        concurrency=1,
        ack_wait=settings.ack_wait_seconds,
        max_deliver=3,
        backoff=(5.0, 30.0),
        fetch_batch=1,
        description="merges adapters into their base models with llamafactory-cli export",
    )
