"""Compare routes (/api/compare): the multiplexed run, saved runs, votes, leaderboard."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.params import Parameter
from litestar.response import ServerSentEvent
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.compare import runs, votes
from handlers.compare.fanout import CompareStream, RunSpec
from handlers.compare.leaderboard import leaderboard
from handlers.compare.schemas import (
    CompareRequest,
    Leaderboard,
    RunPage,
    RunRead,
    VoteCreate,
    VoteRead,
)
from handlers.compare.targets import resolve_models
from handlers.compare.views import run_read, vote_read
from handlers.deps import MAX_OFFSET
from handlers.providers.deps import GATEWAY_DEPENDENCIES
from handlers.quotas import within_quota
from runtime.bus import EventBus
from runtime.db.models import new_id
from runtime.llm.gateway import Gateway
from runtime.llm.metering import Caller
from runtime.settings import Settings

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]


class CompareController(Controller):
    path = "/api/compare"
    tags = ["compare"]
    guards = [requires(Permission.CHAT_USE)]
    dependencies = GATEWAY_DEPENDENCIES

    @post("/", operation_id="compareRun", status_code=200, guards=[within_quota])
    async def compare(
        self,
        data: CompareRequest,
        db_session: AsyncSession,
        current_user: CurrentUser,
        gateway: Gateway,
        bus: EventBus,
        settings: Settings,
    ) -> ServerSentEvent:
        """SSE, every event's data tagged with its ``model_config_id``: per model ``start``,
        ``reasoning``, ``content``, ``usage``, then ``done`` (with metrics) or ``error``;
        finally ``summary``. The run is saved when it ends (``GET /api/compare/runs``)."""
        models = await resolve_models(db_session, data.model_config_ids)
        spec = RunSpec(
            run_id=new_id(),
            user_id=current_user.id,
            models=models,
            prompt=data.prompt,
            system_prompt=data.system_prompt,
            parameters=data.parameters,
        )
        caller = Caller(current_user.id, current_user.api_key_id, origin="compare")
        stream = CompareStream(
            gateway,
            spec,
            caller,
            heartbeat=settings.event_feed.heartbeat_seconds,
            payload_limit=bus.nc.max_payload,
        )
        return ServerSentEvent(stream.messages(), headers={"X-Compare-Run-Id": spec.run_id})

    @get("/runs", operation_id="compareRunsList")
    async def list_runs(
        self,
        db_session: AsyncSession,
        current_user: CurrentUser,
        batch_id: str | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> RunPage:
        """Your runs, newest first, with metrics but not the answers; ``batch_id``: that
        batch's runs in prompt order (batch runs are left out otherwise)."""
        rows, total = await runs.list_runs(
            db_session, current_user, batch_id=batch_id, limit=limit, offset=offset
        )
        results = await runs.results_of(db_session, [r.id for r in rows])
        items = [run_read(r, results[r.id], texts=False) for r in rows]
        return RunPage(items=items, total=total, limit=limit, offset=offset)

    @get("/runs/{run_id:str}", operation_id="compareRunsGet")
    async def get_run(
        self, run_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> RunRead:
        run = await runs.get_owned(db_session, current_user, run_id)
        results = await runs.results_of(db_session, [run.id])
        vote = await votes.vote_of(db_session, current_user.id, run.id)
        return run_read(run, results[run.id], texts=True, vote=vote)

    @delete("/runs/{run_id:str}", operation_id="compareRunsDelete", status_code=204)
    async def delete_run(
        self, run_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> None:
        await runs.delete_run(db_session, current_user, run_id)

    @post("/runs/{run_id:str}/vote", operation_id="compareRunsVote", status_code=200)
    async def vote(
        self, run_id: str, data: VoteCreate, db_session: AsyncSession, current_user: CurrentUser
    ) -> VoteRead:
        """Pick the best answer (``winner_model_config_id``) or ``null`` for a tie; voting
        again replaces your vote."""
        return vote_read(await votes.cast_vote(db_session, current_user, run_id, data))

    @get("/leaderboard", operation_id="compareLeaderboard")
    async def leaderboard(
        self, db_session: AsyncSession, limit: Limit = 50, offset: Offset = 0
    ) -> Leaderboard:
        """Win rates from everyone's votes, best lower Wilson bound first."""
        return await leaderboard(db_session, limit=limit, offset=offset)
