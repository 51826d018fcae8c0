"""Generation: prompt templates from prompts/, and chat LLM backends (llama.cpp in-process, an OpenAI-compatible
server, or a fake for tests)."""

from chatbot.generation.llm import ChatLLM, Choice, FakeLLM, GenerationError, LlamaCppLLM, make_llm
from chatbot.generation.prompts import PromptLibrary

__all__ = ["ChatLLM", "Choice", "FakeLLM", "GenerationError", "LlamaCppLLM", "PromptLibrary", "make_llm"]
