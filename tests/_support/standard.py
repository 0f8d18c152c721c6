"""What both runs of langchain-tests' standard integration suite declare alike: the one
against the stand-in (``tests/langchain``) and the one against the local llama.cpp server
(``tests/real``). Put it first among the bases: ``class _Base(SuiteSettings,
ChatModelIntegrationTests)``."""

from __future__ import annotations

from langchain_modelslab import ChatModelsLab

__all__ = ["SuiteSettings"]


class SuiteSettings:
    """The model class and the capabilities both servers share."""

    @property
    def chat_model_class(self) -> type[ChatModelsLab]:
        return ChatModelsLab

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "meta-llama-llama-3.1-8b-instruct"

    @property
    def supports_pdf_inputs(self) -> bool:
        """ModelsLab documents no file/PDF input; such blocks raise ValueError before sending."""
        return False

    @property
    def supports_pdf_tool_message(self) -> bool:
        """As `supports_pdf_inputs`."""
        return False

    @property
    def supports_audio_inputs(self) -> bool:
        """ModelsLab documents no audio input; such blocks raise ValueError before sending."""
        return False

    @property
    def supports_video_inputs(self) -> bool:
        """ModelsLab documents no video input."""
        return False

    @property
    def enable_vcr_tests(self) -> bool:
        """test_stream_time replays cassettes of a live service; ours are local servers."""
        return False
