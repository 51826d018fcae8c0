"""Typed settings: one object, loaded from YAML with named profiles and environment overrides."""

from chatbot.config.settings import PROJECT_ROOT, Settings, SettingsError, load_settings

__all__ = ["PROJECT_ROOT", "Settings", "SettingsError", "load_settings"]
