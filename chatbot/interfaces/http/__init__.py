"""The HTTP API: schemas, errors, the guard (auth, limits, page access), SSE, OpenAI formats, one router per
feature (``routes/``), and ``app.create_api`` that puts them together. See docs/architecture.md, "Interfaces"."""
