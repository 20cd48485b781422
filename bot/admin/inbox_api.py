"""Placeholder: filled by the inbox part."""
from __future__ import annotations

from fastapi import APIRouter

from bot.admin.context import AdminContext


def routes(context: AdminContext) -> APIRouter:
    return APIRouter()
