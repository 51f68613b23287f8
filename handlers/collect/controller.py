"""Routes from conversations to a dataset (datasets.manage) and from a dataset to a job."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, get, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.collect import build, export, preview, train
from handlers.collect.schemas import (
    CollectRequest,
    Layout,
    PreviewRequest,
    PreviewResponse,
    TrainDefaults,
    TrainRequest,
    ValidationSplit,
)
from handlers.datasets import service as datasets
from handlers.datasets.controller import dataset_out
from handlers.datasets.schemas import Dataset
from handlers.training.controller import job_out
from handlers.training.schemas import Job
from runtime.settings import Settings

BaseModelId = Annotated[str, Parameter(min_length=1, max_length=64)]


class CollectController(Controller):
    path = "/api/datasets"
    tags = ["datasets"]
    guards = [requires(Permission.DATASETS_MANAGE)]

    @post("/collect/preview", operation_id="datasetsCollectPreview", status_code=200)
    async def preview(
        self, data: PreviewRequest, db_session: AsyncSession, current_user: CurrentUser
    ) -> PreviewResponse:
        """Rated chat answers and voted compare answers as pairs, scrubbed, newest first."""
        return await preview.preview(db_session, current_user, data)

    @post("/collect", operation_id="datasetsCollect")
    async def collect(
        self,
        data: CollectRequest,
        db_session: AsyncSession,
        current_user: CurrentUser,
        settings: Settings,
    ) -> Response[Dataset]:
        """Store reviewed pairs as a dataset plus its validation split. 201 new, 200 when
        the same content already exists under this name (as the upload route)."""
        row, created = await build.collect(db_session, current_user, data, settings.data_dir)
        return Response(dataset_out(row), status_code=201 if created else 200)

    @get("/{dataset_id:str}/validation", operation_id="datasetsValidation")
    async def validation(
        self, dataset_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> ValidationSplit:
        """The held-out records of a collected dataset, as alpaca-shaped items."""
        return await build.validation(db_session, current_user, dataset_id)

    @get("/{dataset_id:str}/export", operation_id="datasetsExport")
    async def export_file(
        self,
        dataset_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        format: Literal["alpaca", "sharegpt"] = "alpaca",
        layout: Layout = "jsonl",
    ) -> Response[bytes]:
        """The dataset as a file (JSON Lines, or a JSON array with ``layout=json``)."""
        row = await datasets.get(db_session, current_user, dataset_id)
        body = await export.render(row, format, layout)
        name = export.filename(row, format, layout)
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(body, media_type=export.MEDIA[layout], headers=headers)


class DatasetTrainController(Controller):
    path = "/api/datasets"
    tags = ["training"]
    guards = [requires(Permission.TRAINING_RUN)]

    @get("/{dataset_id:str}/train-defaults", operation_id="datasetsTrainDefaults")
    async def train_defaults(
        self,
        dataset_id: str,
        base_model_id: BaseModelId,
        db_session: AsyncSession,
        current_user: CurrentUser,
    ) -> TrainDefaults:
        """A job request for this dataset and base model, with ``explanations``."""
        return await train.defaults(db_session, current_user, dataset_id, base_model_id)

    @post("/{dataset_id:str}/train", operation_id="datasetsTrain", status_code=202)
    async def train_now(
        self,
        dataset_id: str,
        data: TrainRequest,
        db_session: AsyncSession,
        current_user: CurrentUser,
        settings: Settings,
    ) -> Job:
        """The defaults plus ``overrides``, through the job route's checks and events."""
        job, warnings = await train.train(
            db_session, current_user, dataset_id, data, settings.data_dir
        )
        return job_out(job, warnings)
