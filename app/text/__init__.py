"""Text before speech, shared by the engine and the assistant: ``normalize`` (numbers, times,
symbols as words) and ``sentences`` (the one sentence splitter)."""
