"""Face identification: YuNet detection, SFace embeddings, a watchlist matched over several
frames, and a review queue in which a person decides every match."""
