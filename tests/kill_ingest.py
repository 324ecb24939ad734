"""Child process for the kill loop: ingest a corpus, saying "ready" just before, so the parent can
SIGKILL it at a random moment of the ingestion itself (not of the imports)."""

import sys

from smolrag_lab import Settings, SmolRag

if __name__ == "__main__":
    data_dir, corpus = sys.argv[1], sys.argv[2]
    rag = SmolRag(
        Settings(
            data_dir=data_dir,
            chunk_size=40,
            chunk_overlap=0,
            ingest_concurrency=2,
        )
    )
    rag.providers.embedder.embed(["load the model before the clock starts"])
    print("ready", flush=True)
    report = rag.ingest(corpus, progress=False)
    rag.close()
    print("done", report.counts()["documents"], flush=True)
