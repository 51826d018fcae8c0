import pytest

from chatbot.config.settings import RetrievalSettings
from chatbot.embedding import FakeEmbedder
from chatbot.knowledge.ingest import Ingestor
from chatbot.retrieval import Hit, HybridRetriever
from chatbot.retrieval.glossary import Glossary
from chatbot.retrieval.hybrid import evidence, passes_floor
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
    assert all(h.bm25 is None for h in dense.hits) and all(h.bm25 is not None for h in sparse.hits)
    # whichever ranker found a hit, the floor judges it on both signals
    assert all(h.similarity is not None and h.coverage is not None for h in [*dense.hits, *sparse.hits, *both.hits])
    assert both.hits[0].metadata["topic_id"] == "constipation"
    assert [h.rrf for h in both.hits] == sorted((h.rrf for h in both.hits), reverse=True)


def test_relevance_floor_can_reject_everything(tmp_path, mini_corpus):
    retriever = _retriever(tmp_path, mini_corpus, min_evidence=1.5)
    assert retriever.search("sore throat and zebras").hits == []


def test_floor_needs_meaning_and_shared_words_together():
    settings = RetrievalSettings(min_evidence=0.46, coverage_weight=0.3)

    def hit(similarity, coverage):
        return Hit("c1", "text", {}, similarity=similarity, coverage=coverage)

    # Shared words with no meaning behind them: the old floor took any hit holding half the question's words.
    assert not passes_floor(hit(0.10, 0.6), settings)
    # A middling cosine alone ("sourdough starter hydration" ~ dehydration at 0.38) no longer passes either.
    assert not passes_floor(hit(0.38, 0.0), settings)
    assert passes_floor(hit(0.40, 0.6), settings)  # both agree
    assert passes_floor(hit(0.50, 0.0), settings)  # a strong paraphrase needs no shared word
    assert evidence(hit(0.40, 0.6), settings) == 0.40 + 0.3 * 0.6
    assert not passes_floor(hit(0.90, 1.0), settings, understood=0.2)  # a Chinese question the glossary can't read


def test_lexical_overlap_alone_is_rejected_and_the_on_topic_hit_kept(tmp_path, mini_corpus):
    retriever = _retriever(tmp_path, mini_corpus)
    unfloored = retriever.search("oven temperature", floor=False).hits
    assert unfloored[0].metadata["topic_id"] == "fever-in-children"
    assert unfloored[0].bm25 is not None and unfloored[0].coverage >= 0.5  # what the old floor let through
    assert retriever.search("oven temperature").hits == []
    kept = retriever.search("my child has a temperature").hits
    assert kept and kept[0].metadata["topic_id"] == "fever-in-children"


def test_misspelt_words_still_count_as_shared(tmp_path, mini_corpus):
    retriever = _retriever(tmp_path, mini_corpus)
    hits = retriever.search("constipaton and hard stools", floor=False).hits
    assert hits[0].metadata["topic_id"] == "constipation" and hits[0].coverage == 1.0
    assert retriever.search("constipaton and hard stools").hits


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


def test_glossary_reports_how_much_of_a_chinese_question_it_read():
    g = Glossary({"便秘": ["constipation"], "怎么办": ["what to do"]})
    assert g.understood("no chinese here") == 1.0
    assert g.understood("便秘了怎么办") == 1.0  # 了 is a particle: unread, but it carries no subject
    assert g.understood("狗狗偷吃了巧克力怎么办") == pytest.approx(0.3)  # 3 of 10 characters, particles aside


def test_chinese_question_the_glossary_cannot_read_finds_nothing(tmp_path, mini_corpus):
    retriever = _retriever(tmp_path, mini_corpus)
    retriever.glossary = Glossary({"便秘": ["constipation"], "怎么办": ["what to do"]})
    unread = retriever.search("狗狗偷吃了巧克力和葡萄干怎么办")  # "what to do" alone would match any topic
    assert unread.hits == [] and unread.understood < retriever.settings.min_understood
    read = retriever.search("便秘了怎么办")
    assert read.hits and read.hits[0].metadata["topic_id"] == "constipation"
