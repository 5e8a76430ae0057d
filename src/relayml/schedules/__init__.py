"""Schedules: pipelines that run by themselves, on cron times (UTC) or on events (a new dataset
version, an alert fired, a promotion), fired by `relay server`'s scheduler or `relay schedules
tick`, each firing recorded with the pipeline run it started."""

from __future__ import annotations

__all__: list[str] = []
