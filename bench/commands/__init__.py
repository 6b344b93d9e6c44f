"""The command bench's parts: the corpus, the voices that speak it, the noise, the scoring."""
