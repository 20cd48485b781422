"""Placeholder: filled by the reports part."""
from __future__ import annotations

from fastapi import APIRouter

from bot.admin.context import AdminContext


def routes(context: AdminContext) -> APIRouter:
    return APIRouter()
