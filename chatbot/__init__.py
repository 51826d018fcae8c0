"""Private health-consultation assistant: offline, cited answers with deterministic red-flag triage.

Importing the package sets the privacy guards before any library that could phone home is imported:
nothing a patient types may leave the machine, and no model may be fetched from a hub.
"""

import os

__version__ = "0.1.0"

_PRIVACY_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # Chroma
    "GRADIO_ANALYTICS_ENABLED": "False",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
for _key, _value in _PRIVACY_ENV.items():
    os.environ[_key] = _value
