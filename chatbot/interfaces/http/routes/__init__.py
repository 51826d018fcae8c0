"""One router per feature; ``chatbot.interfaces.http.app.create_api`` includes them, ``fallback`` last."""
