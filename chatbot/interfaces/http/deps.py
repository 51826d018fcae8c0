"""What routes get from the app (FastAPI dependencies): one Engine, the API's session store, the opt-in records,
the running-turn counter and the model name. ``app.create_api`` puts them on ``app.state``; nothing is global."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from chatbot.config import Settings
from chatbot.conversation import Engine, SessionStore
from chatbot.interfaces.http.streaming import TurnCounter
from chatbot.interfaces.records import LocalRecords


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _sessions(request: Request) -> SessionStore:
    return request.app.state.sessions


def _records(request: Request) -> LocalRecords:
    return request.app.state.records


def _counter(request: Request) -> TurnCounter:
    return request.app.state.counter


def _model_name(request: Request) -> str:
    """The name OpenAI clients see: the loaded model's, else the configured one."""
    return request.app.state.engine.model_info().name or request.app.state.settings.llm.model


EngineDep = Annotated[Engine, Depends(_engine)]
SettingsDep = Annotated[Settings, Depends(_settings)]
SessionsDep = Annotated[SessionStore, Depends(_sessions)]
RecordsDep = Annotated[LocalRecords, Depends(_records)]
CounterDep = Annotated[TurnCounter, Depends(_counter)]
ModelNameDep = Annotated[str, Depends(_model_name)]
