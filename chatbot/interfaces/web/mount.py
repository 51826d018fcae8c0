"""Mount the page on an existing FastAPI app: local fonts only, our stylesheet, and every Gradio extra that could
reach outside this machine or show internals (analytics, PWA, MCP, monitoring, error details) turned off."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from fastapi import FastAPI

from chatbot.interfaces.web.handlers import WebChat
from chatbot.interfaces.web.layout import build_page

STYLESHEET = Path(__file__).with_name("style.css")
SYSTEM_FONTS = [
    "system-ui",
    "-apple-system",
    "Segoe UI",
    "Roboto",
    "Noto Sans",
    "Noto Sans CJK SC",
    "PingFang SC",
    "Microsoft YaHei",
    "sans-serif",
]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Consolas", "Liberation Mono", "monospace"]


def theme() -> gr.themes.Base:
    """Gradio's default theme on the system's own fonts, so the page never asks a font CDN for anything."""
    return gr.themes.Default(primary_hue="blue", font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def mount_page(app: FastAPI, page: WebChat, host: str, port: int, path: str = "/") -> FastAPI:
    """Serve ``page`` at ``path`` of ``app`` (routes already on ``app`` keep priority)."""
    return gr.mount_gradio_app(
        app,
        build_page(page),
        path=path,
        server_name=host,
        server_port=port,
        footer_links=[],
        run_history=False,
        show_error=False,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        theme=theme(),
        css=STYLESHEET.read_text(encoding="utf-8"),
    )
