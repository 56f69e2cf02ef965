"""Offline and private by default: switch off every phone-home before the libraries that read it load.

Imported first by the package, so these defaults are in place before gradio, chromadb, onnxruntime or
huggingface_hub are imported anywhere. A user may still override them explicitly in the environment,
except the hub flags: this app never downloads a model at run time.
"""

import os

_DEFAULTS = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ORT_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb's posthog client
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
_FORCED = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def apply_privacy_defaults() -> None:
    """Set the environment so that no library contacts the network on its own."""
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.update(_FORCED)


apply_privacy_defaults()
