from chatbot.config.settings import RetrievalSettings
from chatbot.embedding import FakeEmbedder
from chatbot.knowledge.ingest import Ingestor
from chatbot.retrieval import HybridRetriever
from chatbot.retrieval.tokenize import tokenize
from chatbot.vectorstore import ChunkStore


def _retriever(tmp_path, corpus, **cfg):
    store = ChunkStore(FakeEmbedder(), "knowledge", tmp_path / "chroma")
    Ingestor(store).run([corpus], progress=False)
    retriever = HybridRetriever(store, RetrievalSettings(**cfg))
    retriever.refresh()
    return retriever


def test_tokenizer_handles_english_stems_and_chinese():
    assert tokenize("Headaches and vomiting") == ["headache", "vomit"]
    assert tokenize("Headache") == tokenize("headaches")
    tokens = tokenize("我胸口疼")
    assert "胸口" in tokens


def test_hybrid_finds_the_right_topic(tmp_path, mini_corpus):
    result = _retriever(tmp_path, mini_corpus).search("sore throat and it hurts to swallow")
    assert result.relevant
    assert result.hits[0].metadata["topic_id"] == "sore-throat"
    assert result.elapsed_ms > 0


def test_chinese_query_matches_chinese_synonyms_through_bm25(tmp_path, mini_corpus):
    result = _retriever(tmp_path, mini_corpus).search("喉咙痛", mode="bm25")
    assert result.hits and result.hits[0].metadata["topic_id"] == "sore-throat"


def test_unrelated_question_finds_nothing(tmp_path, mini_corpus):
    result = _retriever(tmp_path, mini_corpus).search("what is the price of bitcoin today")
    assert not result.relevant and result.hits == []


def test_modes_and_fusion(tmp_path, mini_corpus):
    retriever = _retriever(tmp_path, mini_corpus, top_k=5)
    dense = retriever.search("constipation hard stools", mode="dense")
    sparse = retriever.search("constipation hard stools", mode="bm25")
    both = retriever.search("constipation hard stools")
    assert all(h.similarity is not None and h.bm25 is None for h in dense.hits)
    assert all(h.bm25 is not None and h.similarity is None for h in sparse.hits)
    assert both.hits[0].metadata["topic_id"] == "constipation"
    assert [h.rrf for h in both.hits] == sorted((h.rrf for h in both.hits), reverse=True)


def test_relevance_floor_can_reject_everything(tmp_path, mini_corpus):
    retriever = _retriever(tmp_path, mini_corpus, min_similarity=0.99, min_query_coverage=1.0)
    assert retriever.search("sore throat and zebras").hits == []


def test_glossary_expands_chinese_longest_match_first():
    from chatbot.retrieval.glossary import Glossary

    g = Glossary({"嗓子": ["throat"], "嗓子疼": ["sore throat"], "发烧": ["fever"]})
    assert g.expand("我嗓子疼还发烧了") == "sore throat fever"
    assert g.expand("no chinese here") == ""


def test_chinese_question_reaches_english_passages_through_the_glossary(tmp_path, mini_corpus):
    from chatbot.retrieval.glossary import Glossary

    retriever = _retriever(tmp_path, mini_corpus)
    retriever.glossary = Glossary({"便秘": ["constipation"], "好几天": ["several days"], "大便": ["stools", "poo"]})
    result = retriever.search("好几天没大便了，便秘怎么办")
    assert result.hits and result.hits[0].metadata["topic_id"] == "constipation"
